// SRv6 between two simulated hosts, each with its own agent: IPv4 between the hosts' guest
// subnets is encapsulated (seg6 encap) on one and decapsulated (End.DX4) on the other; the
// carrier programs on und0 write the group into the SRH tag after the encapsulation and read
// it back before the decapsulation. The same facts as over VXLAN-GBP, through a VLAN-tagged
// underlay, with extension headers before the SRH; and traffic that is not SRv6 is untouched.
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microseg.Lab;
using Microseg.Netlink;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class CarrierSrv6Tests
{
    private static void AssertTheFacts(CarrierLab lab)
    {
        var udp = lab.Udp("web", "app", "none", "db");
        Assert.True(udp[("web", "db")]);    // web -> db: allow, enforced on nodeb
        Assert.True(udp[("db", "web")]);    // db -> web: allow, enforced on nodea
        Assert.False(udp[("app", "db")]);   // app has no rule: dropped on nodeb
        Assert.False(udp[("none", "db")]);  // untagged: dropped on nodeb
        var seen = lab.Seen();
        Assert.Equal(CarrierLab.Web, seen["web"]);
        Assert.Equal(CarrierLab.App, seen["app"]);
        Assert.Equal(CarrierLab.Untagged, seen["none"]);
        Assert.Equal(CarrierLab.Db, seen["db"]);
    }

    [KernelFact]
    public void The_group_crosses_an_srv6_underlay_in_the_srh_tag()
    {
        using var lab = new CarrierLab(LabCarrier.Srv6);

        AssertTheFacts(lab);
        var report = LabCheck.Run(lab.Lab);
        Assert.True(report.AllMatch, LabCheck.Render(lab.Lab, report)); // TCP and ICMP round trips too

        foreach (var host in new[] { lab.A, lab.B })
        {
            using var status = JsonDocument.Parse(lab.Microseg(host, "status", "--json"));
            var carrier = status.RootElement.GetProperty("carrier");
            Assert.True(carrier.GetProperty("loaded").GetBoolean());
            var und = Assert.Single(carrier.GetProperty("interfaces").EnumerateArray());
            Assert.Equal("und0", und.GetProperty("name").GetString());
            Assert.True(und.GetProperty("ingress").GetBoolean() && und.GetProperty("egress").GetBoolean());
            Assert.Empty(status.RootElement.GetProperty("warnings").EnumerateArray());
        }
    }

    [KernelFact]
    public void Without_the_carrier_programs_the_other_host_sees_untagged_srv6()
    {
        // The same lab with no `bridge: und0`: SRv6 still carries the packets, not the group.
        using var lab = new CarrierLab(LabCarrier.Srv6, CarrierLab.Policy);

        Assert.False(lab.Udp("web", "db")[("web", "db")]);
        var seen = lab.Seen();
        Assert.Equal(CarrierLab.Untagged, seen["web"]);
        Assert.Equal(CarrierLab.Untagged, seen["db"]);
    }

    [KernelFact]
    public void Frames_with_vlan_tags_on_the_underlay_still_carry_the_group()
    {
        using var lab = new CarrierLab(LabCarrier.Srv6, up: false);
        using var wire = new CarrierVlanWire(lab.Lab);
        lab.Lab.Build(TextWriter.Null);
        wire.AttachPushers();
        lab.Lab.ApplyAll(TextWriter.Null);
        wire.AttachPoppers();

        AssertTheFacts(lab);
        var report = LabCheck.Run(lab.Lab);
        Assert.True(report.AllMatch, LabCheck.Render(lab.Lab, report));
    }

    [KernelFact]
    public void A_guests_own_srv6_packets_with_extension_headers_before_the_srh_carry_its_group()
    {
        using var lab = new CarrierLab(LabCarrier.Srv6);
        ExtensionHeader[][] chains =
        [
            [ExtensionHeader.HopByHop],
            [ExtensionHeader.DestinationOptions],
            [ExtensionHeader.HopByHop, ExtensionHeader.DestinationOptions],
            [ExtensionHeader.HopByHop, .. Enumerable.Repeat(ExtensionHeader.DestinationOptions, 7)], // 8: the bound
        ];
        foreach (var chain in chains)
        {
            // Each guest claims no group at all (tag 0): what nodeb sees is what nodea wrote.
            var seen = lab.Seen(new OwnSrv6Packet(0, chain));
            Assert.Equal(CarrierLab.Web, seen["web"]);
            Assert.Equal(CarrierLab.App, seen["app"]);
            Assert.Equal(CarrierLab.Untagged, seen["none"]);
            Assert.Equal(CarrierLab.Db, seen["db"]);

            // And the policy on nodeb acts on it: web's packet reaches db, app's does not.
            var received = ToDb(lab, chain, ["web"], "web", "app");
            Assert.Contains("web", received);
            Assert.DoesNotContain("app", received);
        }

        // Past the bound neither side finds the SRH: nodeb sees the packet untagged (never the
        // tag the guest wrote), and db does not get it.
        var beyond = new OwnSrv6Packet(CarrierLab.Db, [ExtensionHeader.HopByHop, .. Enumerable.Repeat(ExtensionHeader.DestinationOptions, 8)]);
        Assert.Equal(CarrierLab.Untagged, lab.Seen(beyond)["web"]);
        Assert.Empty(ToDb(lab, beyond.Before, [], "web"));
    }

    /// <summary>Each named guest sends its own SRv6 packet (tag 0) to db's host; which arrive at
    /// db? Waits up to 2 s for the <paramref name="expected"/> ones, then 300 ms for any other.</summary>
    private static List<string> ToDb(CarrierLab lab, IReadOnlyList<ExtensionHeader> chain, string[] expected, params string[] senders)
    {
        var db = lab.Guest("db");
        using var receiver = NetworkNamespace.Run(lab.Lab.Namespace(db.Name), () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(db.Ip, 7104));
            return s;
        });
        var probes = new CarrierProbes(lab.Lab);
        foreach (var name in senders)
            probes.SendOwnSrv6(lab.Guest(name), lab.B, db.Ip, 7104, new OwnSrv6Packet(0, chain), Encoding.ASCII.GetBytes(name));
        var got = new List<string>();
        var buffer = new byte[64];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        while (!expected.All(got.Contains) && DateTime.UtcNow < deadline)
            if (receiver.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
                got.Add(Encoding.ASCII.GetString(buffer, 0, receiver.Receive(buffer)));
        while (receiver.Poll(TimeSpan.FromMilliseconds(300), SelectMode.SelectRead))
            got.Add(Encoding.ASCII.GetString(buffer, 0, receiver.Receive(buffer)));
        return got;
    }

    [KernelFact]
    public void Ipv4_and_ipv6_traffic_that_is_not_srv6_is_untouched_and_host_srv6_carries_its_mark()
    {
        using var lab = new CarrierLab(LabCarrier.Srv6);
        var b = lab.Lab.Spec.HostIndex("nodeb");
        const uint mark = 0x0001000a; // group web under someone else's bit

        uint? Deliver(IPAddress to, Action<Socket>? options = null)
        {
            using var receiver = new MarkReceiver(lab.Lab.Namespace("nodeb"), to, 7105);
            var payload = Encoding.ASCII.GetBytes("underlay payload, byte for byte");
            NetworkNamespace.Run(lab.Lab.Namespace("nodea"), () =>
            {
                using var s = new Socket(to.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                s.SetRawSocketOption(1 /* SOL_SOCKET */, 36 /* SO_MARK */, BitConverter.GetBytes(mark));
                options?.Invoke(s);
                s.SendTo(payload, new IPEndPoint(to, 7105));
            });
            if (receiver.Next(TimeSpan.FromSeconds(2)) is not { } got) return null;
            Assert.Equal(payload, got.Payload); // nothing in it was rewritten (the UDP checksum held too)
            return got.Mark;
        }

        // Not SRv6: nodea's mark stays behind (the kernel clears it on the way) and nodeb's
        // carrier leaves the mark alone; the packets arrive intact.
        Assert.Equal(0u, Deliver(LabNetwork.UnderlayIpv4(b)));
        Assert.Equal(0u, Deliver(LabNetwork.UnderlayIpv6(b)));
        // IPv6 with a destination-options header (an extension header, but no SRH).
        Assert.Equal(0u, Deliver(LabNetwork.UnderlayIpv6(b), s => s.SetRawSocketOption(41 /* IPPROTO_IPV6 */, 59 /* IPV6_DSTOPTS */, [17, 0, 1, 4, 0, 0, 0, 0])));

        // The host's own SRv6 (an SRH the kernel builds from IPV6_RTHDR, after a hop-by-hop
        // header): the group part of the mark crosses, the rest does not.
        byte[] srh = [17, 2, 4, 0, 0, 0, 0, 0, .. LabNetwork.UnderlayIpv6(b).GetAddressBytes()];
        Assert.Equal(0x0000000au, Deliver(LabNetwork.UnderlayIpv6(b), s =>
        {
            s.SetRawSocketOption(41, 54 /* IPV6_HOPOPTS */, [0, 0, 1, 4, 0, 0, 0, 0]);
            s.SetRawSocketOption(41, 57 /* IPV6_RTHDR */, srh);
        }));
    }
}
