// The flow table (the flows map: flows guests opened, whose replies pass) as the agent handles
// it: flows deleted by NIC (flush-flows, NICs that left the host), and entries carried into the
// new table of a schema migration so that open connections survive an upgrade.
using Microseg.Bpf;
using Microseg.Bpf.Abi;

namespace Microseg.Agent.Policy;

/// <summary>Which flows flush-flows removes: all of them, one NIC's, or those of the NICs of a
/// group and the groups below it.</summary>
public abstract record FlowScope
{
    public static readonly FlowScope All = new AllFlows();

    public sealed record AllFlows : FlowScope;

    public sealed record OfNic(string Interface) : FlowScope;

    public sealed record OfGroup(string Group) : FlowScope;
}

/// <param name="Removed">Flow table entries deleted.</param>
/// <param name="Nics">The NICs whose flows were removed (empty for all flows).</param>
public sealed record FlowFlushResult(int Removed, IReadOnlyList<string> Nics);

/// <summary>How full the flow table is.</summary>
/// <param name="Entries">Entries present, idle ones the programs have not met again included.</param>
/// <param name="MaxEntries">Its size: when full, the least recently used entries go.</param>
/// <param name="MemlockBytes">The kernel's memory figure for the map (fixed: an LRU map is
/// preallocated); null when the kernel gives none.</param>
public sealed record FlowTableFill(int Entries, long MaxEntries, long? MemlockBytes);

internal static class FlowTable
{
    /// <summary>Deletes the entries <paramref name="which"/> selects; returns how many went.
    /// Then voids the programs' per-CPU cached flows, so that no packet of a deleted flow skips
    /// the table after this returns.</summary>
    public static int Delete(BpfHashMap<FlowKey, FlowValue> flows, BpfArrayMap<ulong> epoch, Func<FlowKey, bool> which)
    {
        int removed = 0;
        foreach (var key in flows.Keys())
            if (which(key) && flows.Delete(key)) removed++;
        if (removed > 0) FlowEpoch.Invalidate(epoch);
        return removed;
    }

    /// <summary>Copies the entries of the table pinned at <paramref name="oldPin"/> into
    /// <paramref name="into"/> (only those it lacks when <paramref name="onlyMissing"/>); returns
    /// how many were copied. Null when the old table cannot be read as today's layout (a schema
    /// that changed the flow key or value: its flows are not carried).</summary>
    public static int? Carry(string oldPin, BpfHashMap<FlowKey, FlowValue> into, BpfArrayMap<ulong> epoch, bool onlyMissing)
    {
        if (!File.Exists(oldPin)) return 0;
        BpfHashMap<FlowKey, FlowValue> old;
        try { old = BpfHashMap<FlowKey, FlowValue>.OpenPinned(oldPin); }
        catch (BpfException) { return null; }
        using (old)
        {
            int copied = 0;
            foreach (var (key, value) in old.Entries())
            {
                if (onlyMissing && into.TryLookup(key, out _)) continue;
                into.Update(key, value);
                copied++;
            }
            // Each write into a full table evicts an entry a CPU may have cached.
            if (copied > 0) FlowEpoch.Invalidate(epoch);
            return copied;
        }
    }
}
