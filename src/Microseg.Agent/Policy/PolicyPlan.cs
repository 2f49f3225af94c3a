// The desired kernel state of the policy subsystem on one host: which local NICs are enforced
// with which group and switches, and the verdict words and service entries their groups need.
// Pure: computed from the snapshot and the host's interface list.
using Microseg.Agent.Observe;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Policy;

/// <summary>An interface present on this host.</summary>
public sealed record LocalInterface(string Name, int IfIndex);

/// <summary>A local guest NIC that has an assignment, so policy is attached to it.</summary>
/// <param name="Flags">The switches of its group (stateful replies, infrastructure traffic,
/// audit), as nic_group holds them.</param>
public sealed record EnforcedNic(string Name, int IfIndex, string AssignmentId, string Group, ushort Mark,
    NicFlags Flags = NicFlags.Stateful | NicFlags.Infra);

public sealed class PolicyPlan
{
    private readonly PolicyEngine engine;
    private readonly PolicyConfig config;
    private readonly Lazy<(IReadOnlyList<VerdictWord> Words, IReadOnlyList<ServiceEntry> Services)> compiled;

    private PolicyPlan(PolicyConfig config, PolicyEngine engine, IReadOnlyList<EnforcedNic> nics, CounterSlotTable? slots, bool keepAllSlots)
    {
        this.config = config;
        this.engine = engine;
        Nics = nics;
        Destinations = nics.Select(n => n.Group).Distinct(StringComparer.Ordinal).Count();
        if (slots is not null) Slots = new CounterSlotAssigner(slots, config, g => engine.SwitchesOf(g).Audit, keepAllSlots);
        compiled = new(() => Slots is null ? engine.CompileAll(Nics.Select(n => n.Group)) : engine.CompileAll(Nics.Select(n => n.Group), Slots));
    }

    /// <summary>The counter slots of this plan (null when planned without them: status).
    /// Complete once <see cref="Words"/>, <see cref="ServiceSlots"/> and <see cref="NicSlots"/>
    /// have been asked for.</summary>
    public CounterSlotAssigner? Slots { get; }

    /// <summary>Assigns every counter slot the plan needs (words, services entries, NICs), so
    /// that a host needing more slots than the map holds fails before the kernel is touched.</summary>
    public void AssignSlots()
    {
        if (Slots is null) return;
        foreach (var e in Services) ServiceSlots(e); // compiles the words too
        foreach (var n in Nics) NicSlots(n);
    }

    /// <summary>The counter slots of a NIC's group: default deny (or audit), replies, infrastructure.</summary>
    public (ushort Deny, ushort Reply, ushort Infra) NicSlots(EnforcedNic nic) => Slots is null ? default
        : (Slots.DefaultSlot(nic.Mark), Slots.ReplySlot(nic.Group), Slots.InfraSlot(nic.Group));

    /// <summary>The counter slot of the rule deciding each port range of a services entry and
    /// of its other packets: the rule that decides the range's first port (a range merged from
    /// neighbours with the same verdict counts on that rule).</summary>
    public (ushort[] Ranges, ushort Otherwise) ServiceSlots(ServiceEntry e)
    {
        if (Slots is null) return (new ushort[e.Ports.Count], 0);
        string? src = e.Src == 0 ? null : GroupOf(e.Src);
        var dst = GroupOf(e.Dst);
        var ranges = e.Ports.Select(p => Slots.DecisionSlot(engine.Explain(src, dst, new Packet(e.Proto, p.Lo)).Rule, e.Dst)).ToArray();
        return (ranges, Slots.DecisionSlot(engine.Explain(src, dst, new Packet(e.Proto)).Rule, e.Dst));
    }

    /// <summary>Enforced NICs, ordered by name.</summary>
    public IReadOnlyList<EnforcedNic> Nics { get; }

    /// <summary>Local destination groups: the distinct groups of <see cref="Nics"/>. Each costs
    /// at most <see cref="VerdictWord.WordsPerDestination"/> words, whatever its rules say.</summary>
    public int Destinations { get; }

    /// <summary>The verdict words of the destination groups of the enforced NICs (one map entry
    /// each; an absent word denies its 64 sources), compiled on first use (status needs only
    /// the NICs). No per-pair list is ever built.</summary>
    public IReadOnlyList<VerdictWord> Words => compiled.Value.Words;

    /// <summary>The service entries of the pairs whose words have the Service bit set: one per
    /// (destination, source, protocol) that a rule of the pair names, never one per port.</summary>
    public IReadOnlyList<ServiceEntry> Services => compiled.Value.Services;

    /// <summary>The group a mark stands for (for messages), or "mark N" when none has it; 0 is untagged.</summary>
    public string GroupOf(ushort mark) =>
        mark == 0 ? "untagged" : config.Groups.Values.FirstOrDefault(g => g.Mark == mark)?.Name ?? $"mark {mark}";

    /// <summary>The same verdicts as allowed pairs, compiled on each call: for tests that read
    /// a small plan pair by pair. The agent syncs <see cref="Words"/>.</summary>
    public IReadOnlyList<VerdictEntry> Verdicts => engine.Compile(Nics.Select(n => n.Group));

    /// <summary>The whole host: every local guest NIC that has an assignment.</summary>
    /// <param name="slots">The counter slot table of the last apply, to assign this plan's
    /// slots from (null: no slots, for status).</param>
    public static PolicyPlan ForHost(PolicyConfig config, IEnumerable<LocalInterface> interfaces, CounterSlotTable? slots = null)
    {
        var engine = EngineOf(config);
        var nics = new List<EnforcedNic>();
        foreach (var itf in interfaces.OrderBy(i => i.Name, StringComparer.Ordinal))
            if (Enforced(config, engine, itf) is { } nic) nics.Add(nic);
        return new PolicyPlan(config, engine, nics, slots, keepAllSlots: false);
    }

    /// <summary>The plug path: one NIC and the verdict words of its group only; null when the
    /// interface is not a guest NIC or has no assignment.</summary>
    public static PolicyPlan? ForInterface(PolicyConfig config, LocalInterface itf, CounterSlotTable? slots = null)
    {
        var engine = EngineOf(config);
        return Enforced(config, engine, itf) is { } nic ? new PolicyPlan(config, engine, [nic], slots, keepAllSlots: true) : null;
    }

    /// <summary>One engine per config (configs are immutable): a resident agent's plugs and
    /// applies of one snapshot share it.</summary>
    private static PolicyEngine EngineOf(PolicyConfig config) => Engines.GetValue(config, c => new PolicyEngine(c));

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<PolicyConfig, PolicyEngine> Engines = [];

    private static EnforcedNic? Enforced(PolicyConfig config, PolicyEngine engine, LocalInterface itf)
    {
        if (!GuestNic.TryParse(itf.Name, out var guest)) return null;
        if (!config.Assignments.TryGetValue(guest.AssignmentId, out var assignment)) return null;
        return new EnforcedNic(itf.Name, itf.IfIndex, assignment.Id, assignment.Group, engine.MarkOf(assignment.Group), FlagsOf(engine.SwitchesOf(assignment.Group)));
    }

    public ushort MarkOf(string group) => engine.MarkOf(group);

    public NicFlags SwitchFlagsOf(string group) => FlagsOf(engine.SwitchesOf(group));

    /// <summary>nic_info.flags of a group's switches.</summary>
    public static NicFlags FlagsOf(GroupSwitches switches) =>
        (switches.Stateful ? NicFlags.Stateful : 0) | (switches.Infra ? NicFlags.Infra : 0) | (switches.Audit ? NicFlags.Audit : 0);
}
