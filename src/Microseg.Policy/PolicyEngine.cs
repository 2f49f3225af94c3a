// Resolution (SPEC §4): the verdict for (source group or untagged, destination group, and the
// packet's protocol and port when rules name services), the deciding rule and every candidate;
// and the compiled verdicts the agent loads.
namespace Microseg.Policy;

/// <summary>A rule that applies to the pair, with its distances: steps from the destination up
/// to the rule's dst, from the source up to its src, and how specific its service is (0 ports,
/// 1 protocol only, 2 none).</summary>
public sealed record Candidate(Rule Rule, int DstDistance, int SrcDistance)
{
    public int Specificity => Service.SpecificityOf(Rule.Service);

    /// <summary>The order of resolution: closest destination, then closest source, then the
    /// most specific service.</summary>
    public (int, int, int) Order => (DstDistance, SrcDistance, Specificity);
}

/// <summary>The verdict of one service for a pair. Service.Ports null: packets of that protocol
/// outside every listed range (and those without a port). Rule null: no rule (default deny).</summary>
public sealed record ServiceVerdict(Service Service, RuleAction Verdict, Rule? Rule);

/// <summary>Why a pair gets its verdict. Rule is null when no rule applies (default deny).
/// Packet null: the answer for packets no service rule matches, and Candidates lists every rule
/// of the pair; with a packet, the answer for it and the candidates that match it.
/// DependsOnService: some packet gets another verdict than <see cref="Verdict"/> without a
/// packet (what the compiled word's Service bit says); PerService lists, per protocol that a
/// candidate names, the verdict of each port range and of the protocol's other packets.</summary>
public sealed record Explanation(string? Src, string Dst, RuleAction Verdict, Rule? Rule, IReadOnlyList<Candidate> Candidates, string Reason)
{
    public Packet? Packet { get; init; }
    public bool DependsOnService { get; init; }
    public IReadOnlyList<ServiceVerdict> PerService { get; init; } = [];
}

/// <summary>One verdict map entry: packets from group SrcMark (0 = untagged) to a NIC of group DstMark.</summary>
public readonly record struct VerdictEntry(ushort SrcMark, ushort DstMark, RuleAction Action);

public sealed class PolicyEngine
{
    private readonly string[] names;              // by index, sorted
    private readonly Dictionary<string, int> index;
    private readonly int[] parent;                // -1 = root
    private readonly ushort[] marks;
    private readonly Group[] switches;            // each group's own switch settings
    private readonly int[] topoOrder;             // parents before children
    private readonly List<Rule>[] rulesToDst;     // rules without a service whose dst is the group
    private readonly List<Rule>[] serviceRulesToDst; // rules with a service whose dst is the group
    private readonly Dictionary<(int Src, int Dst), List<Rule>> rulesByPair = new(); // by the groups of each rule's key

    /// <summary>Builds the engine from a config whose groups all have marks and whose parent
    /// links are known and acyclic (validate first). Duplicate rules for a pair are allowed:
    /// they tie, and deny wins.</summary>
    public PolicyEngine(PolicyConfig config)
    {
        names = [.. config.Groups.Keys];
        index = new Dictionary<string, int>(names.Length, StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++) index[names[i]] = i;
        parent = new int[names.Length];
        marks = new ushort[names.Length];
        switches = new Group[names.Length];
        rulesToDst = new List<Rule>[names.Length];
        serviceRulesToDst = new List<Rule>[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            var g = config.Groups[names[i]];
            if (g.Mark is not { } mark) throw new InvalidOperationException($"group '{g.Name}' has no mark; assign marks before resolving");
            marks[i] = (ushort)mark;
            switches[i] = g;
            parent[i] = g.Parent is null ? -1
                : index.TryGetValue(g.Parent, out var p) ? p
                : throw new InvalidOperationException($"group '{g.Name}' has unknown parent '{g.Parent}'; validate before resolving");
            rulesToDst[i] = [];
            serviceRulesToDst[i] = [];
        }
        topoOrder = TopologicalOrder();
        foreach (var r in config.Rules.Values)
        {
            var (srcName, dstName) = r.Key.Groups;
            if (!index.TryGetValue(dstName, out var dst)) throw new InvalidOperationException($"rule '{r.Id}' names unknown dst '{dstName}'; validate before resolving");
            int src = -1;
            if (srcName is not null && !index.TryGetValue(srcName, out src)) throw new InvalidOperationException($"rule '{r.Id}' names unknown src '{srcName}'; validate before resolving");
            (r.Service is null ? rulesToDst : serviceRulesToDst)[dst].Add(r);
            if (!rulesByPair.TryGetValue((src, dst), out var list)) rulesByPair[(src, dst)] = list = [];
            list.Add(r);
        }
    }

    public IReadOnlyList<string> Groups => names;

    public bool HasGroup(string name) => index.ContainsKey(name);

    public ushort MarkOf(string group) => marks[index[group]];

    /// <summary>The switches of the group's NICs: each the group's own setting, else its
    /// nearest ancestor's, else the default.</summary>
    public GroupSwitches SwitchesOf(string group)
    {
        if (!index.TryGetValue(group, out var g)) throw new ArgumentException($"unknown group '{Text.Clip(group)}'");
        bool? stateful = null, infra = null, audit = null;
        for (int a = g; a >= 0 && (stateful is null || infra is null || audit is null); a = parent[a])
        {
            stateful ??= switches[a].Stateful;
            infra ??= switches[a].Infra;
            audit ??= switches[a].Audit;
        }
        var d = GroupSwitches.Default;
        return new GroupSwitches(stateful ?? d.Stateful, infra ?? d.Infra, audit ?? d.Audit);
    }

    /// <summary>The verdict for a packet from src (null = untagged) to a NIC of dst. Packet
    /// null: the verdict of the packets no service rule matches, with every candidate listed.</summary>
    public Explanation Explain(string? src, string dst, Packet? packet = null)
    {
        int d = Index(dst, "destination");
        int s = src is null ? -1 : Index(src, "source");
        var all = CandidatesOf(s, d);
        var perService = ServiceResolution.PerService(all);
        var noService = Decide(all.Where(c => c.Rule.Service is null));
        var dependsOnService = perService.Any(v => v.Verdict != noService.Verdict);
        var candidates = packet is { } p ? [.. all.Where(c => c.Rule.Service?.Matches(p) ?? true)] : all;
        var decision = packet is null ? noService : Decide(candidates);

        var what = $"{src ?? Names.Untagged} -> {dst}" + (packet is { } pk ? $" {pk}" : "");
        var reason = decision.Rule is not { } rule
            ? $"no rule matches {what}: default deny"
            : decision.Tied.Count == 1
                ? $"rule {rule.Id} ({rule.Key} {Word(rule.Action)}) is closest: dst distance {decision.Tied[0].DstDistance}, src distance {decision.Tied[0].SrcDistance}"
                    + (rule.Service is null ? "" : $", service {rule.Service}")
                : $"{decision.Tied.Count} rules tie at dst distance {decision.Tied[0].DstDistance}, src distance {decision.Tied[0].SrcDistance} ({string.Join(", ", decision.Tied.Select(t => t.Rule.Id))}): " +
                    (decision.Verdict == RuleAction.Allow ? "all allow" : "deny wins");
        if (packet is null && dependsOnService) reason += "; other services decide otherwise (see per service)";
        return new Explanation(src, dst, decision.Verdict, decision.Rule, candidates, reason)
        {
            Packet = packet,
            DependsOnService = dependsOnService,
            PerService = perService,
        };
    }

    /// <summary>Every rule that applies to the pair (source index -1 = untagged), sorted by
    /// (dst distance, src distance, specificity, id).</summary>
    private List<Candidate> CandidatesOf(int s, int d)
    {
        var candidates = new List<Candidate>();
        int dd = 0;
        for (int a = d; a >= 0; a = parent[a], dd++)
        {
            if (s < 0)
            {
                AddCandidates(-1, a, dd, 0, candidates);
                continue;
            }
            int ds = 0;
            for (int b = s; b >= 0; b = parent[b], ds++) AddCandidates(b, a, dd, ds, candidates);
        }
        candidates.Sort(CandidateOrder);
        return candidates;
    }

    internal static int CandidateOrder(Candidate x, Candidate y) =>
        x.Order.CompareTo(y.Order) is var c && c != 0 ? c : string.CompareOrdinal(x.Rule.Id, y.Rule.Id);

    /// <summary>The outcome among candidates that all match: the smallest (dst, src,
    /// specificity) wins; on a tie deny wins; none denies.</summary>
    internal readonly record struct Decision(RuleAction Verdict, Rule? Rule, IReadOnlyList<Candidate> Tied);

    internal static Decision Decide(IEnumerable<Candidate> matching)
    {
        Candidate? best = null;
        List<Candidate>? tied = null;
        foreach (var c in matching)
        {
            int cmp = best is null ? -1 : c.Order.CompareTo(best.Order);
            if (cmp < 0) { best = c; tied = [c]; }
            else if (cmp == 0) tied!.Add(c);
        }
        if (best is null) return new Decision(RuleAction.Deny, null, []);
        tied!.Sort(CandidateOrder);
        var decider = tied.FirstOrDefault(t => t.Rule.Action == RuleAction.Deny) ?? tied[0];
        return new Decision(decider.Rule.Action, decider.Rule, tied);
    }

    private void AddCandidates(int src, int dst, int dd, int ds, List<Candidate> into)
    {
        if (rulesByPair.TryGetValue((src, dst), out var rules))
            foreach (var r in rules) into.Add(new Candidate(r, dd, ds));
    }

    public RuleAction Verdict(string? src, string dst, Packet? packet = null) => Explain(src, dst, packet).Verdict;

    /// <summary>The verdict entries a host needs: for each of its destination groups, every
    /// source (each group and untagged) that policy allows. A missing entry means deny, so the
    /// result has at most (groups + 1) × destinations entries. Sorted by (dst, src).</summary>
    public IReadOnlyList<VerdictEntry> Compile(IEnumerable<string> localDestinations)
    {
        var pairs = new PairSink { Entries = [], BySrcMark = [] };
        CompileCore(localDestinations, ref pairs);
        return pairs.Entries;
    }

    /// <summary>The verdicts of packets that no service rule matches (as <see cref="Compile"/>
    /// gives them), as 64-bit masks: for each of the host's destination groups, the words (64
    /// source marks each, 0 = untagged) with at least one allowed source or one source whose
    /// verdict depends on the service (its Service bit: look up <see cref="CompileServices"/>).
    /// A missing word denies its 64 sources, so a destination costs at most
    /// <see cref="VerdictWord.WordsPerDestination"/> words whatever its rules say, and no per-pair
    /// entry is ever built. Sorted by (dst, src_hi).</summary>
    public IReadOnlyList<VerdictWord> CompileMasks(IEnumerable<string> localDestinations)
    {
        var masks = new MaskSink { Words = [], Scratch = new ulong[VerdictWord.WordsPerDestination], ServiceScratch = new ulong[VerdictWord.WordsPerDestination] };
        CompileCore(localDestinations, ref masks);
        return masks.Words;
    }

    /// <summary>The service entries of the host's destination groups: for each (source mark,
    /// destination) pair whose word has the Service bit, one entry per protocol on which some
    /// packet gets another verdict than the word's Allow bit. A pair whose service rules change
    /// nothing (a closer rule without a service always wins) gets none, and no Service bit.
    /// Sorted by (Dst, Src, Proto).</summary>
    public IReadOnlyList<ServiceEntry> CompileServices(IEnumerable<string> localDestinations)
    {
        var services = new ServiceSink { Entries = [], OfDestination = [] };
        CompileCore(localDestinations, ref services);
        return services.Entries;
    }

    /// <summary>Both compiled forms in one pass (what an agent loads).</summary>
    public (IReadOnlyList<VerdictWord> Words, IReadOnlyList<ServiceEntry> Services) CompileAll(IEnumerable<string> localDestinations)
    {
        var masks = new MaskSink { Words = [], Scratch = new ulong[VerdictWord.WordsPerDestination], ServiceScratch = new ulong[VerdictWord.WordsPerDestination], Entries = [] };
        CompileCore(localDestinations, ref masks);
        return (masks.Words, masks.Entries!);
    }

    /// <summary>Both compiled forms, with the counter slot of each source's deciding rule in
    /// every word (<see cref="VerdictWord.Slots"/>): <paramref name="slots"/> names a slot per
    /// (rule, destination) and per destination for its default deny. Words exist also where
    /// a rule denies one of their sources, so that the deny rule's slot is known.</summary>
    public (IReadOnlyList<VerdictWord> Words, IReadOnlyList<ServiceEntry> Services) CompileAll(IEnumerable<string> localDestinations, IDecisionSlots slots)
    {
        var masks = new MaskSink
        {
            Words = [], Scratch = new ulong[VerdictWord.WordsPerDestination], ServiceScratch = new ulong[VerdictWord.WordsPerDestination], Entries = [],
            Slots = slots, DecidedScratch = new ulong[VerdictWord.WordsPerDestination], SlotScratch = new ushort[ushort.MaxValue + 1],
        };
        CompileCore(localDestinations, ref masks);
        return (masks.Words, masks.Entries!);
    }

    /// <summary>Receives the outcome of the one compile pass: each destination in mark order,
    /// each source mark it allows (untagged first, then in source-forest order), and, when the
    /// sink wants them, the service entries of each source whose verdict depends on the service.</summary>
    private interface IAllowedSources
    {
        bool WantsServices { get; }
        void BeginDestination(ushort dstMark);
        void Allow(ushort srcMark);
        void Services(ushort srcMark, List<ServiceEntry> entries);
        void EndDestination();
        /// <summary>A rule decides the source's packets that no service rule matches (allow or deny).</summary>
        bool WantsDeciders => false;
        void Decided(ushort srcMark, Rule rule) { }
    }

    private struct PairSink : IAllowedSources
    {
        public List<VerdictEntry> Entries, BySrcMark;
        private ushort dst;

        public readonly bool WantsServices => false;
        public void BeginDestination(ushort dstMark) { dst = dstMark; BySrcMark.Clear(); }
        public readonly void Allow(ushort srcMark) => BySrcMark.Add(new VerdictEntry(srcMark, dst, RuleAction.Allow));
        public readonly void Services(ushort srcMark, List<ServiceEntry> entries) { }
        public readonly void EndDestination()
        {
            BySrcMark.Sort((x, y) => x.SrcMark.CompareTo(y.SrcMark));
            Entries.AddRange(BySrcMark);
        }
    }

    private struct MaskSink : IAllowedSources
    {
        public List<VerdictWord> Words;
        public ulong[] Scratch, ServiceScratch; // one destination's words, all 0 between destinations
        public List<ServiceEntry>? Entries;      // also collect the entries (CompileAll)
        public IDecisionSlots? Slots;            // also fill each word's counter slots
        public ulong[]? DecidedScratch;          // sources a rule decides, by word
        public ushort[]? SlotScratch;            // their slots, by source mark
        private ServiceSink entries;
        private ushort dst;

        public readonly bool WantsDeciders => Slots is not null;
        public readonly void Decided(ushort srcMark, Rule rule)
        {
            DecidedScratch![VerdictWord.WordOf(srcMark)] |= VerdictWord.BitOf(srcMark);
            SlotScratch![srcMark] = Slots!.RuleSlot(rule, dst);
        }

        public readonly bool WantsServices => true;
        public void BeginDestination(ushort dstMark)
        {
            dst = dstMark;
            if (Entries is not null && entries.Entries is null) entries = new ServiceSink { Entries = Entries, OfDestination = [] };
        }
        public readonly void Allow(ushort srcMark) => Scratch[VerdictWord.WordOf(srcMark)] |= VerdictWord.BitOf(srcMark);
        public readonly void Services(ushort srcMark, List<ServiceEntry> list)
        {
            ServiceScratch[VerdictWord.WordOf(srcMark)] |= VerdictWord.BitOf(srcMark);
            if (Entries is not null) entries.Services(srcMark, list);
        }
        public readonly void EndDestination()
        {
            ushort defaultSlot = Slots?.DefaultSlot(dst) ?? 0;
            for (int w = 0; w < Scratch.Length; w++)
            {
                ulong decided = DecidedScratch?[w] ?? 0;
                if ((Scratch[w] | ServiceScratch[w] | decided) == 0) continue;
                ushort[]? slots = null;
                if (Slots is not null)
                {
                    slots = new ushort[VerdictWord.SourcesPerWord];
                    for (int b = 0; b < slots.Length; b++)
                        slots[b] = (decided & (1UL << b)) != 0 ? SlotScratch![w * VerdictWord.SourcesPerWord + b] : defaultSlot;
                    DecidedScratch![w] = 0;
                }
                Words.Add(new VerdictWord(dst, (ushort)w, Scratch[w], ServiceScratch[w]) { Slots = slots });
                Scratch[w] = 0;
                ServiceScratch[w] = 0;
            }
            if (Entries is not null) entries.EndDestination();
        }
    }

    private struct ServiceSink : IAllowedSources
    {
        public List<ServiceEntry> Entries, OfDestination;

        public readonly bool WantsServices => true;
        public readonly void BeginDestination(ushort dstMark) { }
        public readonly void Allow(ushort srcMark) { }
        public readonly void Services(ushort srcMark, List<ServiceEntry> list) => OfDestination.AddRange(list);
        public readonly void EndDestination()
        {
            // Entries of one source come in protocol order; sources come in forest order.
            OfDestination.Sort((x, y) => (x.Src, x.Proto).CompareTo((y.Src, y.Proto)));
            Entries.AddRange(OfDestination);
            OfDestination.Clear();
        }
    }

    // One pass per destination D: score every rule without a service whose dst is D or an
    // ancestor, then walk the source forest top-down once. Sources below the src of a service
    // rule to D (or an ancestor) also get their service entries, from their own candidates.
    // Generic over a struct sink so that each output form gets its own specialised copy (no
    // delegate call per allowed source).
    private void CompileCore<TSink>(IEnumerable<string> localDestinations, ref TSink sink) where TSink : struct, IAllowedSources
    {
        var dsts = localDestinations.Distinct(StringComparer.Ordinal).Select(n => Index(n, "destination")).ToArray();
        Array.Sort(dsts, (x, y) => marks[x].CompareTo(marks[y]));
        var own = new long[names.Length];
        var best = new long[names.Length];
        bool deciders = sink.WantsDeciders;
        var ownRule = deciders ? new Rule?[names.Length] : null; // the rule behind own[] and best[]
        var bestRule = deciders ? new Rule?[names.Length] : null;
        var touched = new List<int>();
        var namesService = new bool[names.Length]; // a service rule to D names this group as src
        var belowService = new bool[names.Length]; // the group or an ancestor is such a src
        var serviceTouched = new List<int>();
        var entries = new List<ServiceEntry>();
        foreach (var d in dsts)
        {
            sink.BeginDestination(marks[d]);
            // Scores order candidates exactly as §4 does: (dst_dist, src_dist), and on a tie
            // the allow bit loses to deny, so Min() is the verdict rule.
            long untagged = None;
            Rule? untaggedRule = null;
            bool untaggedService = false;
            int dd = 0;
            for (int a = d; a >= 0; a = parent[a], dd++)
            {
                foreach (var r in rulesToDst[a])
                {
                    var score = Score(dd, 0, r.Action);
                    if (r.Src is null)
                    {
                        if (score < untagged) { untagged = score; untaggedRule = r; }
                        continue;
                    }
                    int s = index[r.Src];
                    if (own[s] == 0) { touched.Add(s); own[s] = score; if (deciders) ownRule![s] = r; }
                    else if (score < own[s]) { own[s] = score; if (deciders) ownRule![s] = r; }
                }
                if (!sink.WantsServices) continue;
                foreach (var r in serviceRulesToDst[a])
                {
                    if (r.Src is null) { untaggedService = true; continue; }
                    int s = index[r.Src];
                    if (!namesService[s]) { namesService[s] = true; serviceTouched.Add(s); }
                }
            }
            if (IsAllow(untagged)) sink.Allow(0);
            if (deciders && untaggedRule is not null) sink.Decided(0, untaggedRule);
            if (untaggedService) ServicesOf(-1, d, IsAllow(untagged), entries, ref sink);
            foreach (var s in topoOrder)
            {
                long score = own[s] == 0 ? None : own[s];
                int p = parent[s];
                if (deciders)
                {
                    // The same order as below, keeping the rule that scored.
                    var rule = own[s] == 0 ? null : ownRule![s];
                    if (p >= 0 && best[p] != None && best[p] + SrcStep < score) rule = bestRule![p];
                    bestRule![s] = rule;
                    if (rule is not null) sink.Decided(marks[s], rule);
                }
                if (p >= 0 && best[p] != None) score = Math.Min(score, best[p] + SrcStep);
                best[s] = score;
                if (IsAllow(score)) sink.Allow(marks[s]);
                if (serviceTouched.Count == 0) continue;
                bool below = namesService[s] || p >= 0 && belowService[p];
                belowService[s] = below;
                if (below) ServicesOf(s, d, IsAllow(score), entries, ref sink);
            }
            foreach (var s in touched) { own[s] = 0; if (deciders) ownRule![s] = null; }
            touched.Clear();
            foreach (var s in serviceTouched) namesService[s] = false;
            serviceTouched.Clear();
            sink.EndDestination();
        }
    }

    private void ServicesOf<TSink>(int s, int d, bool allowed, List<ServiceEntry> entries, ref TSink sink) where TSink : struct, IAllowedSources
    {
        ushort srcMark = s < 0 ? (ushort)0 : marks[s];
        ServiceResolution.Entries(CandidatesOf(s, d), allowed ? RuleAction.Allow : RuleAction.Deny, marks[d], srcMark, entries);
        if (entries.Count == 0) return;
        sink.Services(srcMark, entries);
        entries.Clear();
    }

    private const long None = long.MaxValue;
    private const long SrcStep = 2;

    // Bit 0: 1 = allow. Bits 1..24: src distance. Bits 25..: dst distance. Never 0 (so 0 can
    // mean "unset" in the scratch array): dst distance 0, src distance 0, deny is 0, so shift by one.
    private static long Score(int dd, int ds, RuleAction action) =>
        (((long)dd << 25) | ((long)ds << 1) | (action == RuleAction.Allow ? 1L : 0L)) + (1L << 50);

    private static bool IsAllow(long score) => score != None && (score & 1) == 1;

    /// <summary>Effective verdicts for every (source, destination) pair, untagged first.</summary>
    public IEnumerable<Explanation> Matrix()
    {
        foreach (var src in new string?[] { null }.Concat(names))
            foreach (var dst in names)
                yield return Explain(src, dst);
    }

    private int Index(string name, string role) =>
        index.TryGetValue(name, out var i) ? i : throw new ArgumentException($"unknown {role} group '{Text.Clip(name)}'");

    private int[] TopologicalOrder()
    {
        var depth = new int[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            int steps = 0;
            for (int a = parent[i]; a >= 0; a = parent[a])
                if (++steps > names.Length) throw new InvalidOperationException($"group '{names[i]}' is in a parent cycle; validate before resolving");
            depth[i] = steps;
        }
        var order = Enumerable.Range(0, names.Length).ToArray();
        Array.Sort(depth.ToArray(), order);
        return order;
    }

    private static string Word(RuleAction action) => action == RuleAction.Allow ? "allow" : "deny";
}
