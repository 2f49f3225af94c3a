// The carrier plan on interface lists shaped like RTM_NEWLINK replies: which carrier interfaces
// apply here, which are missing, and which vxlan devices lose the group (and what to do).
using System.Net;
using Microseg.Agent.Carrier;
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Agent.Tests;

public class CarrierPlanTests
{
    private static LinkInfo Link(int index, string name, string? kind = null, int? master = null, VxlanInfo? vxlan = null) =>
        new() { IfIndex = index, Name = name, Kind = kind, MasterIfIndex = master, Vxlan = vxlan };

    private static PolicyConfig Config(params Bridge[] bridges) =>
        PolicyConfig.Create([new Group("web", 10)], bridges: bridges);

    private static readonly IReadOnlyList<LinkInfo> Host =
    [
        Link(1, "lo"),
        Link(2, "eth1"),
        Link(3, "br0", "bridge"),
        Link(4, "veth100i0", "veth", master: 3),
        Link(5, "vx0", "vxlan", master: 3, vxlan: new VxlanInfo(4242, false, 4789, IPAddress.Parse("192.168.77.1"), null)),
        Link(6, "br1", "bridge"),
        Link(7, "vx1", "vxlan", master: 6, vxlan: new VxlanInfo(7, false, 4789, null, IPAddress.Parse("239.1.1.1"))),
        Link(8, "vx2", "vxlan", vxlan: new VxlanInfo(8, false, 4789, null, null)),
        Link(9, "br2", "bridge"),
        Link(10, "vx3", "vxlan", master: 9, vxlan: new VxlanInfo(9, true, 4789, null, IPAddress.Parse("192.168.77.2"))),
        Link(11, "tap200i0", "tun", master: 9),
    ];

    [Fact]
    public void Carrier_interfaces_are_the_bridges_that_apply_to_this_node_and_exist_here()
    {
        var config = Config(
            new Bridge("eth1", new ValueList<string>(["node1", "node2"])),
            new Bridge("eth9", ValueList<string>.Empty),
            new Bridge("br1", new ValueList<string>(["node2"])));
        var plan = CarrierPlan.For(config, "node1", Host, new HashSet<int>());

        Assert.Equal([new CarrierInterface("eth1", 2)], plan.Interfaces);
        Assert.Equal(["eth9"], plan.Missing);
        Assert.Contains(plan.Warnings, w => w.StartsWith("carrier interface eth9 is configured for node node1 but there is no such interface here", StringComparison.Ordinal));
        Assert.Empty(CarrierPlan.For(config, "node3", Host, new HashSet<int>()).Interfaces);
    }

    [Fact]
    public void A_vxlan_device_without_gbp_on_a_bridge_with_enforced_nics_is_named_with_the_fix()
    {
        var plan = CarrierPlan.For(Config(), "node1", Host, new HashSet<int> { 4 });

        var warning = Assert.Single(plan.Warnings);
        Assert.StartsWith("vxlan device vx0 (VNI 4242) on bridge br0 lacks the gbp flag", warning);
        Assert.Contains("the 1 enforced NIC on br0", warning);
        Assert.Contains("can only be set when the device is created", warning);
        Assert.Contains("'ip link del vx0; ip link add vx0 type vxlan id 4242 dstport 4789 local 192.168.77.1 gbp; ip link set vx0 master br0 up'", warning);
        var vx0 = plan.Vxlans.Single(v => v.Name == "vx0");
        Assert.True(vx0.LacksGbp);
        Assert.Equal(("br0", 3, 1), (vx0.Bridge, vx0.BridgeIfIndex, vx0.EnforcedNics));
    }

    [Fact]
    public void Vxlan_devices_that_carry_no_enforced_nic_or_have_gbp_are_no_concern()
    {
        // vx1's bridge has no enforced NIC, vx2 is on no bridge, vx3 has gbp.
        var plan = CarrierPlan.For(Config(), "node1", Host, new HashSet<int> { 11 });

        Assert.Empty(plan.Warnings);
        Assert.Equal(["vx0", "vx1", "vx3"], plan.Vxlans.Select(v => v.Name));
        Assert.Equal(1, plan.Vxlans.Single(v => v.Name == "vx3").EnforcedNics);
        Assert.All(plan.Vxlans, v => Assert.False(v.LacksGbp));
    }

    [Fact]
    public void The_fix_for_a_multicast_vxlan_names_its_group()
    {
        var plan = CarrierPlan.For(Config(), "node1", [.. Host, Link(12, "veth300i0", "veth", master: 6)], new HashSet<int> { 12 });

        var warning = Assert.Single(plan.Warnings);
        Assert.Contains("ip link add vx1 type vxlan id 7 dstport 4789 group 239.1.1.1 gbp", warning);
    }
}
