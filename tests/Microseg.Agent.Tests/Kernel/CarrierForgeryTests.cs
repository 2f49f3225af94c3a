// A guest cannot choose its identity: it may build its own SRv6 packet with any tag in its SRH
// (it owns its NIC), but its host's policy stamps its group on the way in and the carrier
// overwrites the tag on the way out, so the other host sees the guest's own group (or
// untagged for an unassigned guest), and enforces policy on that.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microseg.Lab;
using Microseg.Netlink;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class CarrierForgeryTests
{
    [KernelFact]
    public void A_guest_that_forges_the_srh_tag_is_still_seen_as_its_own_group()
    {
        using var lab = new CarrierLab(LabCarrier.Srv6);

        // Everyone claims web, the group db accepts; then everyone claims db.
        foreach (var claim in new[] { CarrierLab.Web, CarrierLab.Db, (ushort)0xffff })
        {
            var seen = lab.Seen(OwnSrv6Packet.Plain(claim));
            Assert.Equal(CarrierLab.Web, seen["web"]);
            Assert.Equal(CarrierLab.App, seen["app"]);
            Assert.Equal(CarrierLab.Untagged, seen["none"]);
            Assert.Equal(CarrierLab.Db, seen["db"]);
        }
        // With extension headers before the SRH too.
        var hidden = lab.Seen(new OwnSrv6Packet(CarrierLab.Web, [ExtensionHeader.HopByHop, ExtensionHeader.DestinationOptions, ExtensionHeader.DestinationOptions]));
        Assert.Equal(CarrierLab.App, hidden["app"]);
        Assert.Equal(CarrierLab.Untagged, hidden["none"]);
    }

    [KernelFact]
    public void Policy_on_the_other_host_acts_on_the_real_group_not_the_claimed_one()
    {
        using var lab = new CarrierLab(LabCarrier.Srv6);
        var db = lab.Guest("db");
        using var receiver = NetworkNamespace.Run(lab.Lab.Namespace(db.Name), () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(db.Ip, 7106));
            return s;
        });
        var probes = new CarrierProbes(lab.Lab);
        // app and the unassigned guest pose as web; web poses as app (which db would refuse).
        foreach (var (sender, claim) in new[] { ("app", CarrierLab.Web), ("none", CarrierLab.Web), ("web", CarrierLab.App) })
            for (int i = 0; i < 3; i++)
                probes.SendOwnSrv6(lab.Guest(sender), lab.B, db.Ip, 7106, OwnSrv6Packet.Plain(claim), Encoding.ASCII.GetBytes(sender));

        var got = new HashSet<string>();
        var buffer = new byte[64];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (DateTime.UtcNow < deadline && !got.Contains("web"))
            if (receiver.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
                got.Add(Encoding.ASCII.GetString(buffer, 0, receiver.Receive(buffer)));
        while (receiver.Poll(TimeSpan.FromMilliseconds(300), SelectMode.SelectRead))
            got.Add(Encoding.ASCII.GetString(buffer, 0, receiver.Receive(buffer)));

        Assert.Equal(["web"], got);
    }
}
