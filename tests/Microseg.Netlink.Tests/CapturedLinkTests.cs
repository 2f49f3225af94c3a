// The parser against replies recorded from a real 6.18 kernel (Captures/capture.sh).
using System.Net;

namespace Microseg.Netlink.Tests;

public class CapturedLinkTests
{
    private static readonly IReadOnlyList<LinkInfo> Links = Captured.ParseLinks(Captured.LinksDump);

    private static LinkInfo Link(string name) => Assert.Single(Links, l => l.Name == name);

    [Fact]
    public void Every_link_matches_ip_link_of_the_same_namespace()
    {
        IpLinkJson.AssertMatches(Captured.IpLinks, Links);
    }

    [Fact]
    public void Kinds_are_null_only_for_loopback()
    {
        Assert.Equal(
            [("lo", null), ("br0", "bridge"), ("veth1", "veth"), ("veth0", "veth"), ("vx0", "vxlan"), ("vx1", "vxlan"), ("vx6", "vxlan"), ("vpeer0", "veth")],
            Links.Select(l => (l.Name, l.Kind)));
        Assert.True(Link("lo").Flags.HasFlag(LinkFlags.Loopback));
    }

    [Fact]
    public void Bridge_ports_name_the_bridge_as_master()
    {
        int bridge = Link("br0").IfIndex;
        Assert.Equal(["veth0", "vx0", "vx1"], Links.Where(l => l.MasterIfIndex == bridge).Select(l => l.Name));
        Assert.Null(Link("br0").MasterIfIndex);
        Assert.Null(Link("veth1").MasterIfIndex);
    }

    [Fact]
    public void Vxlan_created_with_gbp_reports_it_and_the_other_does_not()
    {
        Assert.Equal(new VxlanInfo(42, Gbp: true, 4789, IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")), Link("vx0").Vxlan);
        Assert.Equal(new VxlanInfo(43, Gbp: false, 4790, IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")), Link("vx1").Vxlan);
        Assert.Equal(new VxlanInfo(44, Gbp: false, 4791, IPAddress.Parse("fd00::1"), IPAddress.Parse("fd00::2")), Link("vx6").Vxlan);
        Assert.All(Links.Where(l => l.Kind != "vxlan"), l => Assert.Null(l.Vxlan));
    }

    [Fact]
    public void The_kernel_sends_IFLA_VXLAN_GBP_as_a_flag_without_payload()
    {
        Assert.Equal(0, VxlanAttributePayloadLength("vx0", Uapi.IFLA_VXLAN_GBP));
        Assert.Null(VxlanAttributePayloadLength("vx1", Uapi.IFLA_VXLAN_GBP));
    }

    [Fact]
    public void The_kernel_nests_IFLA_LINKINFO_without_NLA_F_NESTED()
    {
        // So nesting is a property of the attribute type, never of the flag bit.
        foreach (var message in new NetlinkMessageReader(Captured.LinksDump))
        {
            if (message.Type != Uapi.RTM_NEWLINK) continue;
            foreach (var attribute in new NetlinkAttributeReader(message.Payload[16..]))
                if (attribute.Type == Uapi.IFLA_LINKINFO) Assert.False(attribute.IsNested);
        }
        Assert.Equal(7, Links.Count(l => l.Kind is not null));
    }

    [Fact]
    public void Veth_peers_point_at_each_other_and_across_namespaces_with_a_netnsid()
    {
        Assert.Equal(Link("veth1").IfIndex, Link("veth0").LinkIfIndex);
        Assert.Equal(Link("veth0").IfIndex, Link("veth1").LinkIfIndex);
        Assert.Null(Link("veth0").LinkNetnsId);
        Assert.Equal(0, Link("vpeer0").LinkNetnsId);
        Assert.NotNull(Link("vpeer0").LinkIfIndex);
        Assert.Null(Link("vx0").LinkIfIndex);
    }

    [Fact]
    public void A_single_get_is_one_message_equal_to_the_dump_entry()
    {
        var reply = new LinkReply(Captured.GetVx0Sequence);
        reply.Accept(Captured.GetVx0);
        Assert.True(reply.IsComplete);
        Assert.Equal(0, reply.Status.Errno);
        Assert.Equal(Link("vx0"), Assert.Single(reply.Links));
    }

    [Fact]
    public void A_missing_link_is_ENODEV_in_a_capped_error()
    {
        var reply = new LinkReply(Captured.GetMissingSequence);
        reply.Accept(Captured.GetMissing);
        Assert.True(reply.IsComplete);
        Assert.Empty(reply.Links);
        Assert.Equal(new NetlinkStatus(19, null, null), reply.Status);
    }

    [Fact]
    public void A_refused_dump_ends_in_NLMSG_DONE_with_the_kernels_extended_ack()
    {
        var reply = new LinkReply(Captured.DumpRefusedSequence);
        reply.Accept(Captured.DumpRefused);
        Assert.True(reply.IsComplete);
        Assert.Equal(new NetlinkStatus(22, "Invalid values in header for link dump request", null), reply.Status);
        Assert.Equal(
            "RTM_GETLINK dump: EINVAL (Invalid argument): Invalid values in header for link dump request",
            NetlinkException.FromKernel("RTM_GETLINK dump", reply.Status).Message);
    }

    private static int? VxlanAttributePayloadLength(string name, ushort type)
    {
        foreach (var message in new NetlinkMessageReader(Captured.LinksDump))
        {
            if (message.Type != Uapi.RTM_NEWLINK || LinkMessageParser.Parse(message).Name != name) continue;
            foreach (var attribute in new NetlinkAttributeReader(message.Payload[16..]))
                if (attribute.Type == Uapi.IFLA_LINKINFO)
                    foreach (var info in attribute.GetNested())
                        if (info.Type == Uapi.IFLA_INFO_DATA)
                            foreach (var data in info.GetNested())
                                if (data.Type == type) return data.Payload.Length;
            return null;
        }
        throw new InvalidOperationException($"{name} is not in the capture");
    }
}
