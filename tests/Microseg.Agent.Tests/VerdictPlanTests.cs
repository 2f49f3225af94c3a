// The plan compiles verdict words directly, equal to the packed pairs; the capacity check
// reads the plan's counts and refuses what the maps cannot hold.
using Microseg.Agent.Policy;
using Microseg.Policy;

namespace Microseg.Agent.Tests;

public class VerdictPlanTests
{
    private static PolicyConfig Example() =>
        SectionConfig.Parse(File.ReadAllText(Path.Combine(TestSupport.RepoPaths.Root, "examples", "microseg.cfg")), "microseg.cfg");

    [Fact]
    public void Plan_words_equal_the_packed_pairs_for_the_host_and_the_plug_path()
    {
        var interfaces = new[] { new LocalInterface("veth100i0", 3), new LocalInterface("tap200i1", 4), new LocalInterface("veth101i0", 5) };
        var host = PolicyPlan.ForHost(Example(), interfaces);
        Assert.Equal(VerdictWord.Pack(host.Verdicts), host.Words);
        Assert.Equal(3, host.Destinations);
        // db (20) gets web, wiki and wol (10, 11, 12) in word 0; wiki (11) gets db.
        Assert.Equal([new VerdictWord(11, 0, 1UL << 20), new VerdictWord(20, 0, (1UL << 10) | (1UL << 11) | (1UL << 12))], host.Words.OrderBy(w => w.Dst));
        var plug = PolicyPlan.ForInterface(Example(), new LocalInterface("tap100i0", 9))!;
        Assert.Equal([new VerdictWord(11, 0, 1UL << 20)], plug.Words);
    }

    [Fact]
    public void Capacity_check_names_the_counts_and_the_limit()
    {
        var plan = PolicyPlan.ForHost(Example(), [new LocalInterface("veth100i0", 3), new LocalInterface("tap200i1", 4), new LocalInterface("veth101i0", 5)]);
        new PolicyCapacity(3, 3).Check(plan);
        var dsts = Assert.Throws<AgentException>(() => new PolicyCapacity(2, 3).Check(plan));
        Assert.Equal("this host needs 3 local destination groups (up to 3,072 verdict words); the verdict map holds 2 (2,048 words): " +
            "nothing changed, the last applied policy stays enforced", dsts.Message);
        var nics = Assert.Throws<AgentException>(() => new PolicyCapacity(3, 2).Check(plan));
        Assert.StartsWith("this host has 3 NICs to enforce; the nic_group map holds 2", nics.Message);
        Assert.Equal(1024 * 1024, PolicyCapacity.Maps.MaxWords);
        Assert.Equal(Microseg.Bpf.Abi.PolicyAbi.VerdictsMaxEntries, PolicyCapacity.Maps.MaxWords);
        var transition = Assert.Throws<AgentException>(() => PolicyCapacity.Maps.CheckTransition("verdict", 1_000_000, 48_577, PolicyCapacity.Maps.MaxWords));
        Assert.StartsWith("the sync needs 1,048,577 verdict entries at once (1,000,000 present, 48,577 new, removals come last); the map holds 1,048,576", transition.Message);
    }
}
