// The plan's part of services and switches (pure): each NIC carries its group's switches as
// nic_group flags, the plan compiles the service entries of its local destinations, and the
// capacity check refuses, before the kernel is touched, a pair whose rules name more port ranges
// for one protocol than a services entry holds, naming the pair.
using Microseg.Agent.Policy;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Tests;

public class ServicePlanTests
{
    private const string Policy = """
        group: web
        	mark 10

        group: api
        	mark 11
        	parent web
        	stateful 0

        group: db
        	mark 20
        	infra 0

        rule: p10-20-tcp5432
        	src web
        	dst db
        	proto tcp
        	dport 5432
        	action allow

        rule: p10-20
        	src web
        	dst db
        	action deny

        assignment: vm100i0
        	vmid 100
        	iface 0
        	group web

        assignment: vm101i0
        	vmid 101
        	iface 0
        	group api

        assignment: vm200i0
        	vmid 200
        	iface 0
        	group db

        """;

    private static PolicyPlan Plan(string text) => PolicyPlan.ForHost(SectionConfig.Parse(text, "microseg.cfg"),
        [new LocalInterface("veth100i0", 3), new LocalInterface("veth101i0", 4), new LocalInterface("veth200i0", 5)]);

    [Fact]
    public void Each_nic_carries_the_switches_of_its_group_inherited_with_defaults()
    {
        var flags = Plan(Policy).Nics.ToDictionary(n => n.Name, n => n.Flags);
        Assert.Equal(NicFlags.Stateful | NicFlags.Infra, flags["veth100i0"]);   // web: the defaults
        Assert.Equal(NicFlags.Infra, flags["veth101i0"]);                       // api: stateful 0, infra inherited
        Assert.Equal(NicFlags.Stateful, flags["veth200i0"]);                    // db: infra 0
    }

    [Fact]
    public void The_plan_compiles_one_service_entry_per_pair_and_protocol_and_marks_its_word()
    {
        var plan = Plan(Policy);
        // web (10) and api (11, below web) -> db (20): tcp/5432 allowed, anything else denied.
        Assert.Equal([(20, 10, Service.Tcp), (20, 11, Service.Tcp)], plan.Services.Select(e => ((int)e.Dst, (int)e.Src, e.Proto)));
        Assert.All(plan.Services, e => Assert.Equal([new PortVerdict(5432, 5432, RuleAction.Allow)], e.Ports));
        Assert.All(plan.Services, e => Assert.Equal(RuleAction.Deny, e.Otherwise));
        var word = Assert.Single(plan.Words, w => w.Dst == 20);
        Assert.Equal(VerdictWord.BitOf(10) | VerdictWord.BitOf(11), word.Service);
        Assert.Equal(0UL, word.Allow);
        PolicyCapacity.Maps.Check(plan);
    }

    [Fact]
    public void Seventeen_port_ranges_for_one_pair_and_protocol_are_refused_naming_the_pair()
    {
        // 16 more single ports, none adjacent to another, beside tcp/5432: 17 ranges.
        var rules = string.Concat(Enumerable.Range(0, 16).Select(i =>
            $"rule: p10-20-tcp{1000 + 2 * i}\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport {1000 + 2 * i}\n\taction allow\n\n"));
        var plan = Plan(Policy + rules);
        var e = Assert.Throws<AgentException>(() => PolicyCapacity.Maps.Check(plan));
        Assert.Equal("the rules from web to db name 17 distinct tcp port ranges; the services map holds 16 per group pair and protocol " +
            "(merge adjacent ports into ranges): nothing changed, the last applied policy stays enforced", e.Message);
        // Sixteen fit.
        PolicyCapacity.Maps.Check(Plan(Policy + string.Concat(rules.Split("\n\n").Take(15).Select(r => r + "\n\n"))));
    }

    [Fact]
    public void More_service_entries_than_the_map_holds_are_refused_before_the_kernel_is_touched()
    {
        var plan = Plan(Policy);
        var e = Assert.Throws<AgentException>(() => (PolicyCapacity.Maps with { MaxServices = 1 }).Check(plan));
        Assert.Equal("this host needs 2 service entries (group pair and protocol); the services map holds 1: nothing changed, the last applied policy stays enforced", e.Message);
    }
}
