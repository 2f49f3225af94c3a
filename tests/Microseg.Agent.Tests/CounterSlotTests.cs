// Counter slots: the plan's words carry the slot of each source's deciding rule (words exist
// for sources a rule denies), slots keep their numbers across applies while what they count
// exists, new ones never take a number in use before, and the saved table reads back.
using Microseg.Agent.Observe;
using Microseg.Agent.Policy;
using Microseg.Policy;

namespace Microseg.Agent.Tests;

public class CounterSlotTests
{
    private static string ExampleText => File.ReadAllText(Path.Combine(TestSupport.RepoPaths.Root, "examples", "microseg.cfg"));

    private static PolicyConfig Example(string extra = "") => SectionConfig.Parse(ExampleText + extra, "microseg.cfg");

    private static readonly LocalInterface[] Nics = [new("veth100i0", 3), new("tap200i1", 4), new("veth101i0", 5)];

    /// <summary>Compiles the plan's words and NIC slots (as an apply does) and returns the table.</summary>
    private static (PolicyPlan Plan, CounterSlotTable Table) Assign(PolicyConfig config, CounterSlotTable previous)
    {
        var plan = PolicyPlan.ForHost(config, Nics, previous);
        _ = plan.Words;
        foreach (var n in plan.Nics) plan.NicSlots(n);
        return (plan, plan.Slots!.Table);
    }

    private static ushort SlotOf(CounterSlotTable table, string kind, string? rule, string group) =>
        table.Slots.Single(s => s.Value == new SlotKey(kind, rule, group)).Key;

    [Fact]
    public void Words_carry_the_slot_of_each_sources_deciding_rule_and_the_default_deny_elsewhere()
    {
        var (plan, table) = Assign(Example(), CounterSlotTable.Empty);
        // wol (12) denies db (20) by rule p20-12: the word exists now, with no allow bit.
        var wol = Assert.Single(plan.Words, w => w.Dst == 12);
        Assert.Equal(0UL, wol.Allow);
        Assert.Equal(SlotOf(table, "deny", "p20-12", "wol"), wol.Slots![20]);
        Assert.Equal(SlotOf(table, "default-deny", null, "wol"), wol.Slots[10]);
        var wiki = Assert.Single(plan.Words, w => w.Dst == 11);
        Assert.Equal(SlotOf(table, "allow", "p20-10", "wiki"), wiki.Slots![20]);
        var db = Assert.Single(plan.Words, w => w.Dst == 20);
        Assert.All(new[] { 10, 11, 12 }, s => Assert.Equal(SlotOf(table, "allow", "p10-20", "db"), db.Slots![s]));
        Assert.Equal(SlotOf(table, "default-deny", null, "db"), db.Slots![0]);
        // Without slots (status), words are as before: none for a source only a rule denies.
        Assert.DoesNotContain(PolicyPlan.ForHost(Example(), Nics).Words, w => w.Dst == 12);
        // 3 groups x (default deny, reply, infra) + 3 rules; slot 0 is never handed out.
        Assert.Equal(12, table.Slots.Count);
        Assert.DoesNotContain((ushort)0, table.Slots.Keys);
        Assert.Equal(table.Slots.Count, table.Slots.Values.Distinct().Count());
    }

    [Fact]
    public void A_slot_keeps_its_number_across_applies_and_a_new_one_takes_a_number_free_before()
    {
        var (_, first) = Assign(Example(), CounterSlotTable.Empty);
        // An unrelated rule: every slot keeps its number.
        var (_, second) = Assign(Example("\nrule: p12-20\n\tsrc wol\n\tdst db\n\taction deny\n"), first);
        foreach (var (slot, key) in first.Slots) Assert.Equal(key, second.Slots[slot]);
        var added = SlotOf(second, "deny", "p12-20", "db");
        Assert.DoesNotContain(added, first.Slots.Keys);
        // p20-12 gone: its slot is freed, and not reused by this apply (the old words still count on it).
        var config = SectionConfig.Parse(ExampleText.Replace("rule: p20-12\n\tsrc db\n\tdst wol\n\taction deny\n", ""), "microseg.cfg");
        Assert.False(config.Rules.ContainsKey("p20-12"));
        var plan = PolicyPlan.ForHost(config, Nics, second);
        _ = plan.Words;
        foreach (var n in plan.Nics) plan.NicSlots(n);
        var fresh = plan.Slots!.TakeFresh();
        Assert.DoesNotContain(SlotOf(second, "deny", "p20-12", "wol"), plan.Slots.Table.Slots.Keys);
        Assert.All(fresh, s => Assert.DoesNotContain(s, second.Slots.Keys));
        Assert.Empty(plan.Slots.TakeFresh());
    }

    [Fact]
    public void An_audit_group_counts_its_denies_on_audit_slots()
    {
        var config = SectionConfig.Parse(ExampleText.Replace("group: wol\n\tmark 12\n", "group: wol\n\tmark 12\n\taudit 1\n"), "microseg.cfg");
        Assert.True(config.Groups["wol"].Audit);
        var (_, table) = Assign(config, CounterSlotTable.Empty);
        Assert.Contains(new SlotKey("audit", "p20-12", "wol"), table.Slots.Values);
        Assert.Contains(new SlotKey("audit", null, "wol"), table.Slots.Values);
        Assert.DoesNotContain(table.Slots.Values, k => k.Group == "wol" && k.Kind is "deny" or "default-deny");
    }

    [Fact]
    public void A_host_that_needs_more_slots_than_the_map_holds_is_refused()
    {
        var assigner = new CounterSlotAssigner(CounterSlotTable.Empty, Example(), _ => false, maxSlots: 4);
        assigner.ReplySlot("db");
        assigner.InfraSlot("db");
        assigner.ReplySlot("web");
        var e = Assert.Throws<AgentException>(() => assigner.InfraSlot("web"));
        Assert.Equal("this host needs more than 3 counter slots (one per deciding rule and local destination group, three per group); " +
            "the counters map holds no more: nothing changed, the last applied policy stays enforced", e.Message);
    }

    [Fact]
    public void The_table_reads_back_and_a_damaged_line_is_named()
    {
        var (_, table) = Assign(Example(), CounterSlotTable.Empty);
        var back = CounterSlotTable.Parse(table.Format(), "slots");
        Assert.Equal(table.Slots.OrderBy(s => s.Key), back.Slots.OrderBy(s => s.Key));
        var e = Assert.Throws<AgentException>(() => CounterSlotTable.Parse("# header\n1\tallow\tdb\tp1\n1\tdeny\tdb\tp2\n", "/run/x/counter-slots"));
        Assert.StartsWith("/run/x/counter-slots:3: not a counter slot line", e.Message);
        Assert.Throws<AgentException>(() => CounterSlotTable.Parse("0\tallow\tdb\tp1\n", "slots"));
        Assert.Throws<AgentException>(() => CounterSlotTable.Parse("5\tsometimes\tdb\tp1\n", "slots"));
        Assert.Empty(CounterSlotTable.Load("/nonexistent/counter-slots").Slots);
    }
}
