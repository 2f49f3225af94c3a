// The engine against the §4 oracle on thousands of random forests: Explain's verdict,
// candidates and deciding rule, and the compiled verdict entries (whole and per destination
// subset). Every forest comes from its own seed, printed on failure so that it reproduces;
// MICROSEG_PROPERTY_SEED changes the first seed to explore other forests.
using Microseg.Policy;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class ResolutionPropertyTests(ITestOutputHelper output)
{
    private const int Forests = 3000;

    private static int FirstSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("MICROSEG_PROPERTY_SEED"), out var s) ? s : 20240601;

    [Fact]
    public void Engine_agrees_with_the_oracle_on_random_forests_without_ties() => Run(ties: false, seedOffset: 0);

    [Fact]
    public void Engine_agrees_with_the_oracle_on_random_forests_with_tied_rules() => Run(ties: true, seedOffset: 1_000_000);

    private void Run(bool ties, int seedOffset)
    {
        int first = FirstSeed + seedOffset;
        output.WriteLine($"forests {Forests}, seeds {first}..{first + Forests - 1}, ties {ties}");
        int tiedPairs = 0, deepest = 0;
        var stats = new Coverage();
        for (int i = 0; i < Forests; i++)
        {
            int seed = first + i;
            var rng = new Random(seed);
            var config = RandomPolicies.Forest(rng, maxGroups: 16, ties);
            try
            {
                CheckForest(config, rng, stats);
            }
            catch (Exception e) when (e is not ForestFailure)
            {
                throw new ForestFailure($"forest seed {seed} (ties {ties}) fails; MICROSEG_PROPERTY_SEED={seed - seedOffset} makes it the first forest; its config:\n{SectionConfig.Write(config)}", e);
            }
            tiedPairs += config.Rules.Values.GroupBy(r => (r.Src, r.Dst)).Count(g => g.Count() > 1);
            deepest = Math.Max(deepest, config.Groups.Keys.Max(g => ResolutionOracle.Ancestry(config, g).Count - 1));
        }
        output.WriteLine($"tied pairs {tiedPairs}, deepest group depth {deepest}, {stats}");
        // The generator must actually produce what the test claims to cover.
        Assert.Equal(RandomPolicies.MaxDepth, deepest);
        if (ties) Assert.True(tiedPairs > 100, $"only {tiedPairs} tied pairs generated");
        // ...and pairs where a wrong reading of §4 would give another verdict.
        Assert.True(stats.SourceFirstDiffers > 100, $"source-first order differs from §4 on only {stats.SourceFirstDiffers} pairs");
        Assert.True(stats.NearestOnlyDiffers > 100, $"ignoring inheritance differs from §4 on only {stats.NearestOnlyDiffers} pairs");
        Assert.True(stats.Allowed > 1000 && stats.Denied > 1000, stats.ToString());
        if (ties) Assert.True(stats.DecidedByTie > 100, $"only {stats.DecidedByTie} pairs decided by a tie");
    }

    private sealed class Coverage
    {
        public int Allowed, Denied, SourceFirstDiffers, NearestOnlyDiffers, DecidedByTie;

        public override string ToString() =>
            $"allowed {Allowed}, denied {Denied}, source-first would differ {SourceFirstDiffers}, " +
            $"no-inheritance would differ {NearestOnlyDiffers}, decided by a tie {DecidedByTie}";
    }

    private sealed class ForestFailure(string message, Exception inner) : XunitException(message, inner);

    private static void CheckForest(PolicyConfig config, Random rng, Coverage stats)
    {
        var engine = new PolicyEngine(config);
        var groups = config.Groups.Keys.ToArray();
        var expectedAllow = new HashSet<(ushort Src, ushort Dst)>();

        foreach (var src in new string?[] { null }.Concat(groups))
        {
            foreach (var dst in groups)
            {
                var where = $"{src ?? "untagged"} -> {dst}";
                var e = engine.Explain(src, dst);
                var candidates = ResolutionOracle.Candidates(config, src, dst);
                var winners = ResolutionOracle.Winners(candidates);
                var verdict = ResolutionOracle.Verdict(config, src, dst);

                Assert.True(verdict == e.Verdict, $"{where}: engine says {e.Verdict}, §4 says {verdict}");
                Assert.Equal(
                    candidates.Select(c => (c.Rule.Id, c.DstDistance, c.SrcDistance)).Order(),
                    e.Candidates.Select(c => (c.Rule.Id, c.DstDistance, c.SrcDistance)).Order());
                if (winners.Count == 0)
                {
                    Assert.True(e.Rule is null, $"{where}: no candidate, but the engine names rule {e.Rule?.Id}");
                }
                else
                {
                    Assert.True(e.Rule is not null && winners.Any(w => w.Rule.Id == e.Rule.Id),
                        $"{where}: deciding rule {e.Rule?.Id} is not one of the closest candidates {string.Join(",", winners.Select(w => w.Rule.Id))}");
                    Assert.True(e.Rule!.Action == e.Verdict, $"{where}: deciding rule {e.Rule.Id} says {e.Rule.Action}, verdict {e.Verdict}");
                }
                Assert.Equal(e.Verdict, engine.Verdict(src, dst));

                if (verdict == RuleAction.Allow) stats.Allowed++; else stats.Denied++;
                if (candidates.Count > 0)
                {
                    var bySourceFirst = candidates.MinBy(c => (c.SrcDistance, c.DstDistance, c.Rule.Action))!.Rule.Action;
                    if (bySourceFirst != verdict) stats.SourceFirstDiffers++;
                    var exact = candidates.Where(c => c.DstDistance == 0 && c.SrcDistance == 0).ToList();
                    var nearestOnly = exact.Count > 0 && exact.All(c => c.Rule.Action == RuleAction.Allow) ? RuleAction.Allow : RuleAction.Deny;
                    if (nearestOnly != verdict) stats.NearestOnlyDiffers++;
                    if (winners.Count > 1 && winners.Select(w => w.Rule.Action).Distinct().Count() > 1) stats.DecidedByTie++;
                }
                if (verdict == RuleAction.Allow)
                    expectedAllow.Add((src is null ? (ushort)0 : (ushort)config.Groups[src].Mark!.Value, (ushort)config.Groups[dst].Mark!.Value));
            }
        }

        var all = engine.Compile(groups);
        Assert.All(all, entry => Assert.Equal(RuleAction.Allow, entry.Action));
        Assert.Equal(expectedAllow.Order(), all.Select(x => (x.SrcMark, x.DstMark)).Order());
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.True(all.Count <= (groups.Length + 1) * groups.Length, $"{all.Count} entries > (groups+1) x destinations");
        Assert.Equal(all.OrderBy(x => x.DstMark).ThenBy(x => x.SrcMark), all);

        // A host compiles only its own destinations (given in any order, perhaps twice).
        var subset = groups.Where(_ => rng.Next(2) == 0).ToList();
        if (subset.Count > 0 && rng.Next(2) == 0) subset.Add(subset[rng.Next(subset.Count)]);
        subset = [.. subset.OrderBy(_ => rng.Next())];
        var subsetMarks = subset.Select(g => (ushort)config.Groups[g].Mark!.Value).ToHashSet();
        var part = engine.Compile(subset);
        Assert.Equal(all.Where(x => subsetMarks.Contains(x.DstMark)), part);
        Assert.True(part.Count <= (groups.Length + 1) * subsetMarks.Count, $"{part.Count} entries > (groups+1) x {subsetMarks.Count} destinations");
    }
}
