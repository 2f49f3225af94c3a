// The desired kernel state of the policy subsystem on one host: which local NICs are enforced
// with which group and switches, and the verdict words and service entries their groups need.
// Pure: computed from the snapshot and the host's interface list.
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

    private PolicyPlan(PolicyConfig config, PolicyEngine engine, IReadOnlyList<EnforcedNic> nics)
    {
        this.config = config;
        this.engine = engine;
        Nics = nics;
        Destinations = nics.Select(n => n.Group).Distinct(StringComparer.Ordinal).Count();
        compiled = new(() => engine.CompileAll(Nics.Select(n => n.Group)));
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
    public static PolicyPlan ForHost(PolicyConfig config, IEnumerable<LocalInterface> interfaces)
    {
        var engine = EngineOf(config);
        var nics = new List<EnforcedNic>();
        foreach (var itf in interfaces.OrderBy(i => i.Name, StringComparer.Ordinal))
            if (Enforced(config, engine, itf) is { } nic) nics.Add(nic);
        return new PolicyPlan(config, engine, nics);
    }

    /// <summary>The plug path: one NIC and the verdict words of its group only; null when the
    /// interface is not a guest NIC or has no assignment.</summary>
    public static PolicyPlan? ForInterface(PolicyConfig config, LocalInterface itf)
    {
        var engine = EngineOf(config);
        return Enforced(config, engine, itf) is { } nic ? new PolicyPlan(config, engine, [nic]) : null;
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

    /// <summary>The columns of other destination groups (their verdict words and service
    /// entries), compiled with this plan's engine: what the plug index keeps for groups that
    /// have no NIC on the host yet.</summary>
    public (IReadOnlyList<VerdictWord> Words, IReadOnlyList<ServiceEntry> Services) CompileColumns(IEnumerable<string> groups) => engine.CompileAll(groups);

    public ushort MarkOf(string group) => engine.MarkOf(group);

    public NicFlags SwitchFlagsOf(string group) => FlagsOf(engine.SwitchesOf(group));

    /// <summary>nic_info.flags of a group's switches.</summary>
    public static NicFlags FlagsOf(GroupSwitches switches) =>
        (switches.Stateful ? NicFlags.Stateful : 0) | (switches.Infra ? NicFlags.Infra : 0) | (switches.Audit ? NicFlags.Audit : 0);
}
