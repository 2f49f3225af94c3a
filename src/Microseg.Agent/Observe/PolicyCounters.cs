// The data plane's counters as rows: each slot of the table the last apply saved, summed over
// the CPUs of the pinned per-CPU counters map. One-shot: opens the pins, reads, closes.
using Microseg.Agent.Policy;
using Microseg.Bpf;
using Microseg.Bpf.Abi;

namespace Microseg.Agent.Observe;

/// <summary>Kind: "allow" | "deny" | "default-deny" | "reply" | "infra" | "audit". Rule: the
/// deciding rule's id for allow/deny/audit (null for the others). Group: the destination group
/// (the NIC's group).</summary>
public sealed record CounterRow(string Kind, string? Rule, string Group, ulong Packets, ulong Bytes);

public sealed record PolicyStats(string Node, IReadOnlyList<CounterRow> Rows);

public static class PolicyCounters
{
    /// <summary>Reads the pinned counters (summed over CPUs) and the slot table; rows ordered by
    /// group, then kind (allow, deny, audit, default-deny, reply, infra), then rule.</summary>
    /// <exception cref="AgentException">Nothing is loaded, or programs from before counters.</exception>
    public static PolicyStats Read(AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var pins = new PolicyPins(options.BpffsFor(PolicySubsystem.SubsystemName));
        if (!File.Exists(pins.Counters))
            throw new AgentException(File.Exists(pins.Verdicts)
                ? "the policy programs loaded on this host are from before counters (run 'microseg apply' to migrate)"
                : "the policy programs are not loaded on this host (run 'microseg apply'): there are no counters");
        var table = CounterSlotTable.Load(CounterSlotTable.PathIn(options.RunFor(PolicySubsystem.SubsystemName)));
        using var counters = BpfArrayMap<Counter>.OpenPinned(pins.Counters);
        var perCpu = new Counter[counters.Cpus];
        var rows = new List<CounterRow>(table.Slots.Count);
        foreach (var (slot, key) in table.Slots)
        {
            if (slot >= counters.MaxEntries) continue;
            counters.LookupPerCpu(slot, perCpu);
            ulong packets = 0, bytes = 0;
            foreach (var c in perCpu) { packets += c.Packets; bytes += c.Bytes; }
            rows.Add(new CounterRow(key.Kind, key.Rule, key.Group, packets, bytes));
        }
        rows.Sort((x, y) =>
            string.CompareOrdinal(x.Group, y.Group) is var g && g != 0 ? g
            : KindOrder(x.Kind).CompareTo(KindOrder(y.Kind)) is var k && k != 0 ? k
            : string.CompareOrdinal(x.Rule, y.Rule));
        return new PolicyStats(options.Node, rows);
    }

    private static int KindOrder(string kind) => kind switch
    {
        CounterKinds.Allow => 0,
        CounterKinds.Deny => 1,
        CounterKinds.Audit => 2,
        CounterKinds.DefaultDeny => 3,
        CounterKinds.Reply => 4,
        _ => 5,
    };
}
