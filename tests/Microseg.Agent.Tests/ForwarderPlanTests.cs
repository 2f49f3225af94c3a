// ForwarderPlan is pure (config + interface list → ports): unit tests, no kernel.
using Microseg.Agent.Forwarder;
using Microseg.Policy;

namespace Microseg.Agent.Tests;

public sealed class ForwarderPlanTests
{
    private static readonly (string, int)[] Host = [("lo", 1), ("rtr0", 2), ("eth1", 3), ("eth2", 4), ("eth3", 5), ("rtr1", 6)];

    private static PolicyConfig Config(params Microseg.Policy.Forwarder[] forwarders) => PolicyConfig.Create(forwarders: forwarders);

    private static Microseg.Policy.Forwarder F(string name, string router, string physical, ForwarderMode mode = ForwarderMode.Skb) =>
        new(name, router, new ValueList<string>(physical.Split(',')), mode);

    [Fact]
    public void Listed_interfaces_get_their_ifindex_as_vlan_id_and_their_forwarders_router()
    {
        var plan = ForwarderPlan.ForHost(Config(F("net0", "rtr0", "eth2,eth1", ForwarderMode.Native)), Host);
        Assert.Equal([new RouterPort("net0", "rtr0", 2, ForwarderMode.Native)], plan.Routers);
        Assert.Equal(
            [new PhysicalPort("net0", "eth1", 3, 3, "rtr0", 2, ForwarderMode.Native), new PhysicalPort("net0", "eth2", 4, 4, "rtr0", 2, ForwarderMode.Native)],
            plan.Physicals);
        Assert.Empty(plan.Problems);
    }

    [Fact]
    public void Only_forwarders_that_list_this_node_or_none_act_here_and_their_interfaces_are_free_elsewhere()
    {
        var onA = F("a", "rtr0", "eth1") with { Nodes = new ValueList<string>(["node1"]) };
        var onB = F("b", "rtr1", "eth1") with { Nodes = new ValueList<string>(["node2"]) };
        var everywhere = F("c", "rtr0", "eth2");
        var config = Config(onA, onB);
        var node1 = ForwarderPlan.ForHost(config, Host, "node1");
        Assert.Equal(["a:eth1"], node1.Physicals.Select(p => $"{p.Forwarder}:{p.Name}"));
        Assert.Empty(node1.Problems);
        var node2 = ForwarderPlan.ForHost(config, Host, "node2");
        Assert.Equal(["b:eth1"], node2.Physicals.Select(p => $"{p.Forwarder}:{p.Name}"));
        var node3 = ForwarderPlan.ForHost(config, Host, "node3");
        Assert.Empty(node3.Routers);
        Assert.Empty(node3.Physicals);
        Assert.Equal(["c:eth2"], ForwarderPlan.ForHost(Config(everywhere), Host, "node3").Physicals.Select(p => $"{p.Forwarder}:{p.Name}"));
    }

    [Fact]
    public void Wildcard_takes_every_interface_but_lo_the_routers_and_interfaces_listed_elsewhere()
    {
        var plan = ForwarderPlan.ForHost(Config(F("net0", "rtr0", "*"), F("net1", "rtr1", "eth3")), Host);
        Assert.Equal(["eth1", "eth2"], plan.Physicals.Where(p => p.Forwarder == "net0").Select(p => p.Name));
        Assert.Equal(["eth3"], plan.Physicals.Where(p => p.Forwarder == "net1").Select(p => p.Name));
        Assert.Empty(plan.Problems);
    }

    [Fact]
    public void A_missing_router_or_physical_interface_is_a_warning_and_a_shared_one_an_error()
    {
        var plan = ForwarderPlan.ForHost(Config(F("a", "rtr0", "eth1,eth9"), F("b", "rtr1", "eth1,eth2"), F("c", "gone0", "eth3")), Host);
        Assert.Equal(["a:eth1", "b:eth2"], plan.Physicals.Select(p => $"{p.Forwarder}:{p.Name}"));
        Assert.Contains(plan.Problems, p => !p.IsError && p.Interface == "eth9" && p.Message.Contains("not on this host (yet)"));
        Assert.Contains(plan.Problems, p => !p.IsError && p.Interface == "gone0" && p.Message.Contains("does nothing here"));
        Assert.Contains(plan.Problems, p => p.IsError && p.Forwarder == "b" && p.Message == "physical eth1 is already forwarded by forwarder a; an interface belongs to one forwarder");
        Assert.True(plan.Names("eth9"));
        Assert.False(plan.Names("eth3")); // c's router is absent: c names nothing here
    }

    [Fact]
    public void Two_wildcards_conflict_and_a_router_is_never_a_physical_interface()
    {
        var plan = ForwarderPlan.ForHost(Config(F("a", "rtr0", "*"), F("b", "rtr1", "*")), Host);
        Assert.Equal(["eth1", "eth2", "eth3"], plan.Physicals.Select(p => p.Name));
        Assert.All(plan.Physicals, p => Assert.Equal("a", p.Forwarder));
        Assert.Equal(3, plan.Problems.Count(p => p.IsError && p.Forwarder == "b" && p.Message.Contains("matched by '*' of forwarders a and b")));
        var other = ForwarderPlan.ForHost(Config(F("a", "rtr0", "rtr1"), F("b", "rtr1", "eth1")), Host);
        Assert.Contains(other.Problems, p => p.IsError && p.Message == "physical rtr1 is the router of another forwarder");
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(4094, false)]
    [InlineData(4095, true)]
    [InlineData(70000, true)]
    public void The_vlan_id_is_the_ifindex_and_must_be_1_to_4094(int ifIndex, bool problem)
    {
        Assert.Equal(problem, ForwarderPlan.VlanProblem("eth1", ifIndex) is not null);
        var plan = ForwarderPlan.ForHost(Config(F("a", "rtr0", "eth1")), [("rtr0", 2), ("eth1", ifIndex)]);
        Assert.Equal(problem ? 0 : 1, plan.Physicals.Count);
        if (problem) Assert.Contains($"physical eth1 has ifindex {ifIndex}, which cannot be its VLAN id", plan.Problems.Single().Message);
    }
}
