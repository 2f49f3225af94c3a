// The counter slot table: which slot of the counters map counts what. A slot stands for a
// kind of outcome on one local destination group: the allow or deny (or audit) of one
// deciding rule, or the group's default deny (audit), replies or infrastructure passes. The
// table is kept across applies so that a slot keeps its number while what it counts still
// exists (a counter is not reset by an unrelated commit); a new slot takes a number that was
// free before this apply and is zeroed before the maps point at it. It is saved as a text file
// under the run directory, where one-shot readers (stats, monitor) find it.
using System.Globalization;
using System.Text;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Observe;

/// <summary>What a slot counts. Kind: "allow" | "deny" | "default-deny" | "reply" | "infra" |
/// "audit"; Rule: the deciding rule for allow, deny and audit of a rule (null otherwise);
/// Group: the destination group.</summary>
public sealed record SlotKey(string Kind, string? Rule, string Group);

public static class CounterKinds
{
    public const string Allow = "allow", Deny = "deny", DefaultDeny = "default-deny", Reply = "reply", Infra = "infra", Audit = "audit";
}

/// <summary>The slot table as saved: slot number → what it counts.</summary>
public sealed class CounterSlotTable
{
    public const string FileName = "counter-slots";

    public CounterSlotTable(IReadOnlyDictionary<ushort, SlotKey> slots) => Slots = slots;

    public static readonly CounterSlotTable Empty = new(new Dictionary<ushort, SlotKey>());

    public IReadOnlyDictionary<ushort, SlotKey> Slots { get; }

    public static string PathIn(string runDirectory) => Path.Combine(runDirectory, FileName);

    /// <summary>The saved table; empty when there is none.</summary>
    /// <exception cref="AgentException">The file is damaged (names the file and line).</exception>
    public static CounterSlotTable Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (FileNotFoundException) { return Empty; }
        catch (DirectoryNotFoundException) { return Empty; }
        return Parse(text, path);
    }

    /// <summary>One line per slot: number, kind, group, rule ("-" for none), tab-separated.</summary>
    public static CounterSlotTable Parse(string text, string source)
    {
        var slots = new Dictionary<ushort, SlotKey>();
        int n = 0;
        foreach (var line in text.Split('\n'))
        {
            n++;
            if (line.Length == 0 || line[0] == '#') continue;
            var f = line.Split('\t');
            if (f.Length != 4 || !ushort.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var slot) || slot == 0
                || f[1] is not (CounterKinds.Allow or CounterKinds.Deny or CounterKinds.DefaultDeny or CounterKinds.Reply or CounterKinds.Infra or CounterKinds.Audit)
                || !slots.TryAdd(slot, new SlotKey(f[1], f[3] == "-" ? null : f[3], f[2])))
                throw new AgentException($"{source}:{n}: not a counter slot line (slot, kind, group, rule, tab-separated, each slot once): '{Text.Clip(line)}'");
        }
        return new CounterSlotTable(slots);
    }

    public string Format()
    {
        var sb = new StringBuilder("# counter slots of the policy programs: slot, kind, group, rule\n");
        foreach (var (slot, key) in Slots.OrderBy(s => s.Key))
            sb.Append(CultureInfo.InvariantCulture, $"{slot}\t{key.Kind}\t{key.Group}\t{key.Rule ?? "-"}\n");
        return sb.ToString();
    }

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(path, Encoding.UTF8.GetBytes(Format()));
    }
}

/// <summary>
/// Assigns the slots one apply needs, keeping the numbers of the previous table. Numbers that
/// were in use before this apply are never handed to another key by it (the old maps may still
/// count on them until the sync removes their words); new keys get numbers free in both tables,
/// listed in <see cref="Fresh"/> to be zeroed before the maps point at them.
/// </summary>
public sealed class CounterSlotAssigner : IDecisionSlots
{
    private readonly CounterSlotTable previous;
    private readonly Dictionary<SlotKey, ushort> previousByKey = new();
    private readonly Dictionary<SlotKey, ushort> byKey = new();
    private readonly Dictionary<ushort, SlotKey> used = new();
    private readonly Dictionary<ushort, string> groupsByMark;
    private readonly Func<string, bool> audits;
    private readonly int maxSlots;
    private readonly List<ushort> fresh = [];
    private ushort next = 1;

    /// <param name="previous">The table saved by the last apply.</param>
    /// <param name="config">The policy: group names by mark, and which groups audit.</param>
    /// <param name="keepAll">Keep every previous slot (the plug path, which sees one NIC's
    /// group only); otherwise keep only those this apply uses.</param>
    /// <param name="maxSlots">Slots the counters map holds (slot 0 is never assigned).</param>
    public CounterSlotAssigner(CounterSlotTable previous, PolicyConfig config, Func<string, bool> audits, bool keepAll = false, int maxSlots = PolicyAbi.CountersMaxEntries)
    {
        this.previous = previous;
        foreach (var (slot, key) in previous.Slots) previousByKey.TryAdd(key, slot);
        this.audits = audits;
        this.maxSlots = maxSlots;
        groupsByMark = config.Groups.Values.Where(g => g.Mark.HasValue).ToDictionary(g => (ushort)g.Mark!.Value, g => g.Name);
        if (keepAll)
            foreach (var (slot, key) in previous.Slots) { byKey[key] = slot; used[slot] = key; }
    }

    /// <summary>Slots assigned by this apply that nothing counted on before, not yet taken:
    /// the caller zeroes them before the maps point at them (each is handed out once).</summary>
    public IReadOnlyList<ushort> TakeFresh()
    {
        var taken = fresh.ToArray();
        fresh.Clear();
        return taken;
    }

    /// <summary>The table after this apply.</summary>
    public CounterSlotTable Table => new(new Dictionary<ushort, SlotKey>(used));

    public ushort RuleSlot(Rule rule, ushort dstMark)
    {
        var group = GroupOf(dstMark);
        var kind = rule.Action == RuleAction.Allow ? CounterKinds.Allow : audits(group) ? CounterKinds.Audit : CounterKinds.Deny;
        return SlotOf(new SlotKey(kind, rule.Id, group));
    }

    public ushort DefaultSlot(ushort dstMark)
    {
        var group = GroupOf(dstMark);
        return SlotOf(new SlotKey(audits(group) ? CounterKinds.Audit : CounterKinds.DefaultDeny, null, group));
    }

    public ushort ReplySlot(string group) => SlotOf(new SlotKey(CounterKinds.Reply, null, group));

    public ushort InfraSlot(string group) => SlotOf(new SlotKey(CounterKinds.Infra, null, group));

    /// <summary>The slot of a service range's deciding rule (null: default deny).</summary>
    public ushort DecisionSlot(Rule? rule, ushort dstMark) => rule is null ? DefaultSlot(dstMark) : RuleSlot(rule, dstMark);

    private string GroupOf(ushort mark) => groupsByMark.TryGetValue(mark, out var g) ? g : $"mark {mark.ToString(CultureInfo.InvariantCulture)}";

    private ushort SlotOf(SlotKey key)
    {
        if (byKey.TryGetValue(key, out var slot)) return slot;
        if (previousByKey.TryGetValue(key, out var kept) && !used.ContainsKey(kept))
        {
            byKey[key] = kept;
            used[kept] = key;
            return kept;
        }
        while (next < maxSlots && (used.ContainsKey(next) || previous.Slots.ContainsKey(next))) next++;
        if (next >= maxSlots)
            throw new AgentException(
                $"this host needs more than {(maxSlots - 1).ToString("N0", CultureInfo.InvariantCulture)} counter slots (one per deciding rule and local destination group, three per group); " +
                "the counters map holds no more: nothing changed, the last applied policy stays enforced");
        slot = next++;
        byKey[key] = slot;
        used[slot] = key;
        fresh.Add(slot);
        return slot;
    }
}
