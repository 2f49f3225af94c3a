// Resolution (SPEC §4): the verdict for (source group or untagged, destination group), the
// deciding rule and every candidate; and the compiled verdict entries the agent loads.
namespace Microseg.Policy;

public sealed record Candidate(Rule Rule, int DstDistance, int SrcDistance);

/// <summary>Why a pair gets its verdict. Rule is null when no rule applies (default deny).</summary>
public sealed record Explanation(string? Src, string Dst, RuleAction Verdict, Rule? Rule, IReadOnlyList<Candidate> Candidates, string Reason);

/// <summary>One verdict map entry: packets from group SrcMark (0 = untagged) to a NIC of group DstMark.</summary>
public readonly record struct VerdictEntry(ushort SrcMark, ushort DstMark, RuleAction Action);

public sealed class PolicyEngine
{
    private readonly string[] names;              // by index, sorted
    private readonly Dictionary<string, int> index;
    private readonly int[] parent;                // -1 = root
    private readonly ushort[] marks;
    private readonly int[] topoOrder;             // parents before children
    private readonly List<Rule>[] rulesToDst;     // rules whose dst is the group
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
        rulesToDst = new List<Rule>[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            var g = config.Groups[names[i]];
            if (g.Mark is not { } mark) throw new InvalidOperationException($"group '{g.Name}' has no mark; assign marks before resolving");
            marks[i] = (ushort)mark;
            parent[i] = g.Parent is null ? -1
                : index.TryGetValue(g.Parent, out var p) ? p
                : throw new InvalidOperationException($"group '{g.Name}' has unknown parent '{g.Parent}'; validate before resolving");
            rulesToDst[i] = [];
        }
        topoOrder = TopologicalOrder();
        foreach (var r in config.Rules.Values)
        {
            var (srcName, dstName) = r.Key.Groups;
            if (!index.TryGetValue(dstName, out var dst)) throw new InvalidOperationException($"rule '{r.Id}' names unknown dst '{dstName}'; validate before resolving");
            int src = -1;
            if (srcName is not null && !index.TryGetValue(srcName, out src)) throw new InvalidOperationException($"rule '{r.Id}' names unknown src '{srcName}'; validate before resolving");
            rulesToDst[dst].Add(r);
            if (!rulesByPair.TryGetValue((src, dst), out var list)) rulesByPair[(src, dst)] = list = [];
            list.Add(r);
        }
    }

    public IReadOnlyList<string> Groups => names;

    public bool HasGroup(string name) => index.ContainsKey(name);

    public ushort MarkOf(string group) => marks[index[group]];

    public Explanation Explain(string? src, string dst)
    {
        int d = Index(dst, "destination");
        int s = src is null ? -1 : Index(src, "source");
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
        candidates.Sort((x, y) => (x.DstDistance, x.SrcDistance).CompareTo((y.DstDistance, y.SrcDistance)) is var c && c != 0 ? c : string.CompareOrdinal(x.Rule.Id, y.Rule.Id));

        var srcName = src ?? Names.Untagged;
        if (candidates.Count == 0)
            return new Explanation(src, dst, RuleAction.Deny, null, candidates,
                $"no rule matches {srcName} -> {dst}: default deny");
        var best = candidates[0];
        var tied = candidates.TakeWhile(c => c.DstDistance == best.DstDistance && c.SrcDistance == best.SrcDistance).ToList();
        if (tied.Count == 1)
            return new Explanation(src, dst, best.Rule.Action, best.Rule, candidates,
                $"rule {best.Rule.Id} ({best.Rule.Key} {Word(best.Rule.Action)}) is closest: dst distance {best.DstDistance}, src distance {best.SrcDistance}");
        var denier = tied.FirstOrDefault(c => c.Rule.Action == RuleAction.Deny);
        var decider = denier ?? tied[0];
        return new Explanation(src, dst, decider.Rule.Action, decider.Rule, candidates,
            $"{tied.Count} rules tie at dst distance {best.DstDistance}, src distance {best.SrcDistance} ({string.Join(", ", tied.Select(t => t.Rule.Id))}): " +
            (denier is null ? "all allow" : "deny wins"));
    }

    private void AddCandidates(int src, int dst, int dd, int ds, List<Candidate> into)
    {
        if (rulesByPair.TryGetValue((src, dst), out var rules))
            foreach (var r in rules) into.Add(new Candidate(r, dd, ds));
    }

    public RuleAction Verdict(string? src, string dst) => Explain(src, dst).Verdict;

    /// <summary>The verdict entries a host needs: for each of its destination groups, every
    /// source (each group and untagged) that policy allows. A missing entry means deny, so the
    /// result has at most (groups + 1) × destinations entries. Sorted by (dst, src).</summary>
    public IReadOnlyList<VerdictEntry> Compile(IEnumerable<string> localDestinations)
    {
        var pairs = new PairSink { Entries = [], BySrcMark = [] };
        CompileCore(localDestinations, ref pairs);
        return pairs.Entries;
    }

    /// <summary>The same verdicts as <see cref="Compile"/>, as 64-bit masks: for each of the
    /// host's destination groups, the words (64 source marks each, 0 = untagged) with at least
    /// one allowed source. A missing word denies its 64 sources, so a destination costs at most
    /// <see cref="VerdictWord.WordsPerDestination"/> words whatever its rules say, and no per-pair
    /// entry is ever built. Sorted by (dst, src_hi).</summary>
    public IReadOnlyList<VerdictWord> CompileMasks(IEnumerable<string> localDestinations)
    {
        var masks = new MaskSink { Words = [], Scratch = new ulong[VerdictWord.WordsPerDestination] };
        CompileCore(localDestinations, ref masks);
        return masks.Words;
    }

    /// <summary>Receives the outcome of the one compile pass: each destination in mark order,
    /// and each source mark it allows (untagged first, then in source-forest order).</summary>
    private interface IAllowedSources
    {
        void BeginDestination(ushort dstMark);
        void Allow(ushort srcMark);
        void EndDestination();
    }

    private struct PairSink : IAllowedSources
    {
        public List<VerdictEntry> Entries, BySrcMark;
        private ushort dst;

        public void BeginDestination(ushort dstMark) { dst = dstMark; BySrcMark.Clear(); }
        public readonly void Allow(ushort srcMark) => BySrcMark.Add(new VerdictEntry(srcMark, dst, RuleAction.Allow));
        public readonly void EndDestination()
        {
            BySrcMark.Sort((x, y) => x.SrcMark.CompareTo(y.SrcMark));
            Entries.AddRange(BySrcMark);
        }
    }

    private struct MaskSink : IAllowedSources
    {
        public List<VerdictWord> Words;
        public ulong[] Scratch; // one destination's words, all 0 between destinations
        private ushort dst;

        public void BeginDestination(ushort dstMark) => dst = dstMark;
        public readonly void Allow(ushort srcMark) => Scratch[VerdictWord.WordOf(srcMark)] |= VerdictWord.BitOf(srcMark);
        public readonly void EndDestination()
        {
            for (int w = 0; w < Scratch.Length; w++)
            {
                if (Scratch[w] == 0) continue;
                Words.Add(new VerdictWord(dst, (ushort)w, Scratch[w]));
                Scratch[w] = 0;
            }
        }
    }

    // One pass per destination D: score every rule whose dst is D or an ancestor, then walk the
    // source forest top-down once. Generic over a struct sink so that each output form gets its
    // own specialised copy (no delegate call per allowed source).
    private void CompileCore<TSink>(IEnumerable<string> localDestinations, ref TSink sink) where TSink : struct, IAllowedSources
    {
        var dsts = localDestinations.Distinct(StringComparer.Ordinal).Select(n => Index(n, "destination")).ToArray();
        Array.Sort(dsts, (x, y) => marks[x].CompareTo(marks[y]));
        var own = new long[names.Length];
        var best = new long[names.Length];
        var touched = new List<int>();
        foreach (var d in dsts)
        {
            sink.BeginDestination(marks[d]);
            // Scores order candidates exactly as §4 does: (dst_dist, src_dist), and on a tie
            // the allow bit loses to deny, so Min() is the verdict rule.
            long untagged = None;
            int dd = 0;
            for (int a = d; a >= 0; a = parent[a], dd++)
            {
                foreach (var r in rulesToDst[a])
                {
                    var score = Score(dd, 0, r.Action);
                    if (r.Src is null) { untagged = Math.Min(untagged, score); continue; }
                    int s = index[r.Src];
                    if (own[s] == 0) { touched.Add(s); own[s] = score; }
                    else own[s] = Math.Min(own[s], score);
                }
            }
            if (IsAllow(untagged)) sink.Allow(0);
            foreach (var s in topoOrder)
            {
                long score = own[s] == 0 ? None : own[s];
                int p = parent[s];
                if (p >= 0 && best[p] != None) score = Math.Min(score, best[p] + SrcStep);
                best[s] = score;
                if (IsAllow(score)) sink.Allow(marks[s]);
            }
            foreach (var s in touched) own[s] = 0;
            touched.Clear();
            sink.EndDestination();
        }
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
