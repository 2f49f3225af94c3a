// The event parser against RTNLGRP_LINK notifications recorded from a real 6.18 kernel
// (Captures/capture-events.sh).
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink.Tests;

public class CapturedLinkEventTests
{
    private static readonly IReadOnlyDictionary<string, int> IfIndex = Captured.LinkEventIfIndexes;

    private static List<LinkEvent> Events()
    {
        var events = new List<LinkEvent>();
        LinkEventParser.ParseAll(Captured.LinkEvents, events);
        return events;
    }

    private static string Describe(LinkEvent e) => e switch
    {
        LinkUpdated u => $"updated {u.Link.Name} {u.Link.IfIndex}",
        LinkDeleted d => $"deleted {d.Name} {d.IfIndex}",
        _ => e.ToString(),
    };

    [Fact]
    public void Notifications_become_events_in_kernel_order()
    {
        string br0 = $"updated br0 {IfIndex["br0"]}", veth0 = $"updated veth0 {IfIndex["veth0"]}";
        Assert.Equal(
        [
            br0, $"updated veth1 {IfIndex["veth1"]}", veth0, veth0, veth0, br0, br0, veth0, veth0, veth0, br0, br0, veth0,
            $"deleted veth0 {IfIndex["veth0"]}", $"deleted veth1 {IfIndex["veth1"]}",
        ], Events().Select(Describe));
    }

    [Fact]
    public void A_port_leaving_its_bridge_is_not_a_deleted_link()
    {
        // The kernel did send an RTM_DELLINK for veth0 when it left br0: the bridge's (AF_BRIDGE) one.
        int bridgePortDeletions = 0;
        foreach (var message in new NetlinkMessageReader(Captured.LinkEvents))
            if (message.Type == RTM_DELLINK && message.Payload[0] == AF_BRIDGE) bridgePortDeletions++;
        Assert.Equal(1, bridgePortDeletions);

        Assert.Equal(["veth0", "veth1"], Events().OfType<LinkDeleted>().Select(d => d.Name));
    }

    [Fact]
    public void Updates_carry_the_whole_link_enslaved_raised_and_freed()
    {
        var veth0 = Events().OfType<LinkUpdated>().Select(u => u.Link).Where(l => l.Name == "veth0").ToList();

        Assert.All(veth0, l => Assert.Equal(("veth", IfIndex["veth0"]), (l.Kind, l.IfIndex)));
        Assert.Equal(IfIndex["veth1"], veth0[0].LinkIfIndex);
        Assert.False(veth0[0].IsUp);
        Assert.Contains(veth0, l => l.MasterIfIndex == IfIndex["br0"] && !l.IsUp);
        int up = veth0.FindIndex(l => l.IsUp);
        Assert.True(up > 0, "no update shows veth0 up");
        Assert.Null(veth0[^1].MasterIfIndex);
    }

    [Fact]
    public void Messages_that_are_not_link_notifications_are_skipped()
    {
        var events = new List<LinkEvent>();
        LinkEventParser.ParseAll(Bytes.Concat(
            Bytes.Message(NLMSG_DONE, NLM_F_MULTI, 1, 0, 0, 0, 0),
            Bytes.Message(NLMSG_NOOP, 0, 0)), events);
        Assert.Empty(events);
    }

    [Fact]
    public void A_deletion_too_short_for_its_ifinfomsg_is_a_format_error()
    {
        var bytes = Bytes.Message(RTM_DELLINK, 0, 0, new byte[8]);
        var e = Assert.Throws<NetlinkFormatException>(() => LinkEventParser.ParseAll(bytes, []));
        Assert.Contains("RTM_DELLINK", e.Message);
        Assert.Contains("struct ifinfomsg", e.Message);
    }

    [Fact]
    public void A_deletion_without_a_name_is_a_format_error()
    {
        var ifinfo = new byte[16];
        BitConverter.TryWriteBytes(ifinfo.AsSpan(4), 7);
        var e = Assert.Throws<NetlinkFormatException>(() => LinkEventParser.ParseAll(Bytes.Message(RTM_DELLINK, 0, 0, ifinfo), []));
        Assert.Equal("RTM_DELLINK for ifindex 7 at offset 0: no IFLA_IFNAME attribute", e.Message);
    }
}
