// What the verdicts toward some destination groups depend on, as a config of its own: each
// destination's ancestors, the rules whose dst is one of those groups, every group under those
// rules' sources (their marks are the sources the rules cover) with its ancestors, and the
// assignments to the destinations. The engine gives every source the same verdicts toward the
// destinations from the subset as from the whole config: a source outside the subset is covered
// by none of those rules, so the default denies it in both. The plug index carries the subset
// of the assigned groups, so that a plug of a group new on the host compiles its column without
// reading the cluster's snapshot.
namespace Microseg.Policy;

public static class DestinationSubset
{
    /// <summary>The subset of <paramref name="config"/> (validated, marks assigned) that decides
    /// every verdict toward <paramref name="destinations"/>.</summary>
    public static PolicyConfig Of(PolicyConfig config, IEnumerable<string> destinations)
    {
        var keep = new HashSet<string>(StringComparer.Ordinal);
        var wanted = destinations.Where(config.Groups.ContainsKey).ToHashSet(StringComparer.Ordinal);
        foreach (var d in wanted) AddChain(config, keep, d);
        var chains = keep.ToHashSet(StringComparer.Ordinal);
        var rules = config.Rules.Values.Where(r => chains.Contains(r.Key.Dst)).ToList();

        var sources = rules.Select(r => r.Key.Src).OfType<string>().Where(config.Groups.ContainsKey).ToHashSet(StringComparer.Ordinal);
        if (sources.Count > 0)
        {
            var children = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var g in config.Groups.Values)
                if (g.Parent is { } p)
                {
                    if (!children.TryGetValue(p, out var list)) children[p] = list = [];
                    list.Add(g.Name);
                }
            var pending = new Stack<string>();
            foreach (var s in sources)
            {
                AddChain(config, keep, s);
                pending.Push(s);
            }
            // Below a source: every descendant (its ancestors are the source's chain and the
            // descendants on the way, all kept).
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (pending.TryPop(out var g))
            {
                if (!seen.Add(g) || !children.TryGetValue(g, out var below)) continue;
                foreach (var c in below)
                {
                    keep.Add(c);
                    pending.Push(c);
                }
            }
        }

        return PolicyConfig.Create(
            groups: keep.Select(n => config.Groups[n]),
            rules: rules,
            assignments: config.Assignments.Values.Where(a => wanted.Contains(a.Group)));
    }

    private static void AddChain(PolicyConfig config, HashSet<string> keep, string group)
    {
        // A group already kept has its ancestors kept too.
        for (string? g = group; g is not null && config.Groups.TryGetValue(g, out var entry) && keep.Add(g); g = entry.Parent) { }
    }
}
