// Which link events make the resident agent plug, reclaim or run a full apply: decided on the
// interface table as it was before each event, without a kernel.
using Microseg.Agent.Resident;
using Microseg.Agent.Subsystems;
using Microseg.Netlink;

namespace Microseg.Agent.Tests;

public class ResidentLinkActionTests
{
    private static LinkInfo Link(int ifIndex, string name, LinkFlags flags = LinkFlags.None, int? master = null) =>
        new() { IfIndex = ifIndex, Name = name, Kind = "veth", Flags = flags, MasterIfIndex = master };

    [Fact]
    public void The_first_newlink_of_a_guest_nic_plugs_it_and_later_changes_to_it_do_nothing()
    {
        var table = new InterfaceTable([Link(1, "lo"), Link(2, "br0")]);
        var created = LinkEventActions.Apply([new LinkUpdated(Link(7, "veth101i0"))], table);
        Assert.Equal([new PlugLink("veth101i0", 7)], created);
        // Enslaved, then up: the same link, already plugged.
        var changes = LinkEventActions.Apply([new LinkUpdated(Link(7, "veth101i0", master: 2)), new LinkUpdated(Link(7, "veth101i0", LinkFlags.Up, 2))], table);
        Assert.Empty(changes);
        Assert.Equal("veth101i0", table.Link(7)!.Name);
        Assert.True(table.Link(7)!.IsUp);
    }

    [Fact]
    public void Any_new_link_goes_to_the_plug_path_which_decides_whose_business_it_is()
    {
        // A carrier bridge or a forwarder's physical NIC that appears is plugged too; an
        // unassigned or foreign name is a no-op there.
        var table = new InterfaceTable();
        Assert.Equal([new PlugLink("eth3", 4)], LinkEventActions.Apply([new LinkUpdated(Link(4, "eth3"))], table));
    }

    [Fact]
    public void A_renamed_link_is_plugged_under_its_new_name()
    {
        var table = new InterfaceTable([Link(9, "tmp0")]);
        Assert.Equal([new PlugLink("tap200i1", 9)], LinkEventActions.Apply([new LinkUpdated(Link(9, "tap200i1"))], table));
    }

    [Fact]
    public void A_deleted_guest_nic_is_a_full_apply_that_reclaims_it_and_other_deletions_are_not()
    {
        var table = new InterfaceTable([Link(7, "veth101i0"), Link(8, "p101")]);
        var actions = LinkEventActions.Apply([new LinkDeleted(8, "p101"), new LinkDeleted(7, "veth101i0")], table);
        var full = Assert.IsType<FullApply>(Assert.Single(actions));
        Assert.Contains("veth101i0", full.Reason);
        Assert.Empty(table.Links());
    }

    [Fact]
    public void A_recycled_ifindex_after_a_delete_is_a_new_link()
    {
        var table = new InterfaceTable([Link(7, "veth101i0")]);
        var actions = LinkEventActions.Apply([new LinkDeleted(7, "veth101i0"), new LinkUpdated(Link(7, "veth101i0"))], table);
        Assert.IsType<FullApply>(actions[0]);
        Assert.Equal(new PlugLink("veth101i0", 7), actions[1]);
    }

    [Theory]
    [InlineData(LinkResyncReason.Subscribed)]
    [InlineData(LinkResyncReason.EventsLost)]
    public void A_resync_replaces_the_table_and_is_a_full_apply(LinkResyncReason reason)
    {
        var table = new InterfaceTable([Link(7, "veth101i0"), Link(8, "veth102i0")]);
        var actions = LinkEventActions.Apply([new LinkResync([Link(8, "veth102i0"), Link(9, "tap103i0")], reason)], table);
        Assert.IsType<FullApply>(Assert.Single(actions));
        Assert.Equal([8, 9], table.Links().Select(l => l.IfIndex));
    }

    [Fact]
    public void A_batch_with_a_full_apply_needs_no_plugs_and_plugs_are_kept_in_order_once_each()
    {
        var plugs = LinkWorkPlan.Of([new PlugLink("veth102i0", 8), new PlugLink("veth101i0", 7), new PlugLink("veth102i0", 8)]);
        Assert.Null(plugs.FullApplyReason);
        Assert.Equal(["veth102i0", "veth101i0"], plugs.Plugs.Select(p => p.Name));

        var full = LinkWorkPlan.Of([new PlugLink("veth102i0", 8), new FullApply("veth100i0 (ifindex 5) is gone"), new FullApply("later")]);
        Assert.Equal("veth100i0 (ifindex 5) is gone", full.FullApplyReason);
        Assert.Empty(full.Plugs);
    }

    [Fact]
    public void Link_changes_that_name_nothing_new_ask_for_nothing()
    {
        var table = new InterfaceTable([Link(2, "br0")]);
        Assert.Empty(LinkEventActions.Apply([new LinkUpdated(Link(2, "br0", LinkFlags.Up)), new LinkDeleted(3, "fwpr100p0")], table));
        Assert.Equal(LinkAction.None, LinkEventActions.Decide(new LinkUpdated(Link(2, "br0")), table.Link));
    }
}
