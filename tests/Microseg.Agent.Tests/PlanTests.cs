using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Policy;

namespace Microseg.Agent.Tests;

public class PlanTests
{
    private static PolicyConfig Example() =>
        SectionConfig.Parse(File.ReadAllText(Path.Combine(TestSupport.RepoPaths.Root, "examples", "microseg.cfg")), "microseg.cfg");

    [Fact]
    public void Host_plan_enforces_only_assigned_guest_nics_and_compiles_their_groups()
    {
        var interfaces = new[]
        {
            new LocalInterface("lo", 1), new LocalInterface("br0", 2),
            new LocalInterface("veth100i0", 3),  // wiki
            new LocalInterface("tap200i1", 4),   // db
            new LocalInterface("veth300i0", 5),  // unassigned
        };
        var plan = PolicyPlan.ForHost(Example(), interfaces);
        Assert.Equal(["tap200i1", "veth100i0"], plan.Nics.Select(n => n.Name));
        Assert.Equal([(ushort)20, (ushort)11], plan.Nics.Select(n => n.Mark));
        // Only destinations db (20) and wiki (11): db gets web, wiki, wol; wiki gets db.
        Assert.Equal(
            [(10, 20), (11, 20), (12, 20), (20, 11)],
            plan.Verdicts.Select(v => ((int)v.SrcMark, (int)v.DstMark)).OrderBy(p => p.Item2 == 20 ? 0 : 1).ThenBy(p => p.Item1));
        Assert.All(plan.Verdicts, v => Assert.Equal(RuleAction.Allow, v.Action));
    }

    [Fact]
    public void Interface_plan_is_null_for_unassigned_and_non_guest_names()
    {
        Assert.Null(PolicyPlan.ForInterface(Example(), new LocalInterface("veth300i0", 5)));
        Assert.Null(PolicyPlan.ForInterface(Example(), new LocalInterface("eth0", 5)));
        var plan = PolicyPlan.ForInterface(Example(), new LocalInterface("veth101i0", 9))!;
        Assert.Equal("wol", Assert.Single(plan.Nics).Group);
        // Only db has rules towards wol's ancestry, and db -> wol is denied: nothing is allowed in.
        Assert.Empty(plan.Verdicts);
        var wiki = PolicyPlan.ForInterface(Example(), new LocalInterface("tap100i0", 9))!;
        Assert.Equal([(20, 11)], wiki.Verdicts.Select(v => ((int)v.SrcMark, (int)v.DstMark)));
    }

    [Fact]
    public void Map_diff_writes_only_what_differs_and_deletes_only_stale_keys()
    {
        var desired = new Dictionary<int, int> { [1] = 10, [2] = 20, [3] = 30 };
        var current = new Dictionary<int, int> { [1] = 10, [2] = 21, [4] = 40 };
        var diff = MapSync.Diff(desired, current);
        Assert.Equal([2, 3], diff.Writes.Select(w => w.Key).Order());
        Assert.Equal([4], diff.Deletes);
        Assert.Empty(MapSync.Diff(desired, desired).Writes);
        Assert.True(MapSync.Diff(desired, desired).IsEmpty);
        Assert.Empty(MapSync.Diff(desired, current, deleteStale: false).Deletes);
    }
}
