// CompileMasks against the §4 oracle for every one of the 65,536 source marks: random forests
// (RandomPolicies) whose marks are moved onto word boundaries (0/63/64/65535...) and packed
// into shared words, so that each destination's masks span several words with several bits.
// Every forest comes from its own seed, printed on failure; MICROSEG_PROPERTY_SEED moves the
// first seed.
using Microseg.Policy;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class VerdictMaskPropertyTests(ITestOutputHelper output)
{
    private const int Forests = 1000;
    private const int MarkSpace = ushort.MaxValue + 1;

    // Both ends of the mark space and of words (a word is 64 marks: 0..63, 64..127, ...).
    private static readonly int[] Boundaries = [1, 2, 62, 63, 64, 65, 127, 128, 191, 192, 4095, 4096, 32767, 32768, 65471, 65472, 65473, 65534, 65535];

    private static int FirstSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("MICROSEG_PROPERTY_SEED"), out var s) ? s : 20261128;

    [Fact]
    public void Masks_give_every_source_mark_the_verdict_of_the_oracle()
    {
        int first = FirstSeed + 2_000_000;
        output.WriteLine($"forests {Forests}, seeds {first}..{first + Forests - 1}");
        var stats = new Coverage();
        for (int i = 0; i < Forests; i++)
        {
            int seed = first + i;
            var rng = new Random(seed);
            var config = RandomPolicies.Remark(RandomPolicies.Forest(rng, maxGroups: rng.Next(2) == 0 ? 16 : 48, ties: i % 2 == 1), rng, Boundaries);
            try
            {
                CheckForest(config, rng, stats);
            }
            catch (Exception e) when (e is not ForestFailure)
            {
                throw new ForestFailure($"forest seed {seed} fails; MICROSEG_PROPERTY_SEED={seed - 2_000_000} makes it the first forest; its config:\n{SectionConfig.Write(config)}", e);
            }
        }
        output.WriteLine(stats.ToString());
        // The generator must produce what the test claims to cover, or it passes vacuously.
        Assert.True(stats.Inherited > 1000, $"only {stats.Inherited} allowed sources decided by an inherited rule");
        Assert.True(stats.DecidedByTie > 100, $"only {stats.DecidedByTie} sources decided by a tie");
        Assert.True(stats.MultiWordDestinations > 500, $"only {stats.MultiWordDestinations} destinations with more than one word");
        Assert.True(stats.MultiBitWords > 500, $"only {stats.MultiBitWords} words with more than one allowed source");
        Assert.True(stats.UntaggedAllowed > 100, $"untagged allowed only {stats.UntaggedAllowed} times");
        foreach (var mark in new[] { 63, 64, 65535 })
        {
            Assert.True(stats.AllowedAt[mark] > 20, $"source mark {mark} allowed only {stats.AllowedAt[mark]} times");
            Assert.True(stats.DeniedGroupAt[mark] > 20, $"group with mark {mark} denied only {stats.DeniedGroupAt[mark]} times");
        }
    }

    private sealed class Coverage
    {
        public int Destinations, Words, Inherited, DecidedByTie, MultiWordDestinations, MultiBitWords, UntaggedAllowed;
        public readonly int[] AllowedAt = new int[MarkSpace];
        public readonly int[] DeniedGroupAt = new int[MarkSpace];

        public override string ToString() =>
            $"destinations checked {Destinations} (x {MarkSpace} source marks), words {Words}, inherited allows {Inherited}, " +
            $"decided by a tie {DecidedByTie}, multi-word destinations {MultiWordDestinations}, multi-bit words {MultiBitWords}, " +
            $"untagged allowed {UntaggedAllowed}, allowed at 63/64/65535: {AllowedAt[63]}/{AllowedAt[64]}/{AllowedAt[65535]}";
    }

    private sealed class ForestFailure(string message, Exception inner) : XunitException(message, inner);

    private static void CheckForest(PolicyConfig config, Random rng, Coverage stats)
    {
        var engine = new PolicyEngine(config);
        var groups = config.Groups.Keys.ToArray();
        var all = engine.CompileMasks(groups);

        // Shape: sorted by (dst, src_hi), one word per key, no empty word, at most 1,024 per destination.
        Assert.Equal(all.OrderBy(w => w.Dst).ThenBy(w => w.SrcHi), all);
        Assert.Equal(all.Count, all.Select(w => (w.Dst, w.SrcHi)).Distinct().Count());
        Assert.All(all, w => Assert.NotEqual(0UL, w.Allow));
        Assert.All(all, w => Assert.InRange(w.SrcHi, 0, VerdictWord.WordsPerDestination - 1));
        // One core pass, two outputs: the masks are exactly the pair entries packed.
        Assert.Equal(VerdictWord.Pack(engine.Compile(groups)), all);

        // A host compiles only its own destinations (any order, perhaps twice).
        var sample = groups.Where(_ => rng.Next(3) == 0).ToList();
        if (sample.Count == 0) sample.Add(groups[rng.Next(groups.Length)]);
        if (rng.Next(2) == 0) sample.Add(sample[rng.Next(sample.Count)]);
        sample = [.. sample.OrderBy(_ => rng.Next())];
        var sampleMarks = sample.Select(g => (ushort)config.Groups[g].Mark!.Value).ToHashSet();
        var part = engine.CompileMasks(sample);
        Assert.Equal(all.Where(w => sampleMarks.Contains(w.Dst)), part);

        var groupAt = new string?[MarkSpace];
        foreach (var g in groups) groupAt[config.Groups[g].Mark!.Value] = g;
        var masks = new ulong[VerdictWord.WordsPerDestination];
        foreach (var dst in sample.Distinct())
        {
            ushort dstMark = (ushort)config.Groups[dst].Mark!.Value;
            Array.Clear(masks);
            int words = 0;
            foreach (var w in part.Where(w => w.Dst == dstMark))
            {
                masks[w.SrcHi] = w.Allow;
                words++;
                if (ulong.PopCount(w.Allow) > 1) stats.MultiBitWords++;
            }
            stats.Destinations++;
            stats.Words += words;
            if (words > 1) stats.MultiWordDestinations++;

            for (int src = 0; src < MarkSpace; src++)
            {
                bool maskAllows = ((masks[src >> VerdictWord.Shift] >> (src & (VerdictWord.SourcesPerWord - 1))) & 1) == 1;
                // Mark 0 is untagged; a mark no group holds is never stamped, and denies.
                string? srcGroup = groupAt[src];
                if (src != 0 && srcGroup is null)
                {
                    if (maskAllows) Assert.Fail($"unassigned source mark {src} -> {dst} ({dstMark}) is allowed");
                    continue;
                }
                var where = $"{srcGroup ?? "untagged"} (mark {src}) -> {dst} (mark {dstMark})";
                var explained = engine.Explain(srcGroup, dst).Verdict;
                var oracle = ResolutionOracle.Verdict(config, srcGroup, dst);
                Assert.True(explained == oracle, $"{where}: Explain says {explained}, §4 says {oracle}");
                Assert.True(maskAllows == (oracle == RuleAction.Allow), $"{where}: mask bit {(maskAllows ? 1 : 0)}, §4 says {oracle}");

                var winners = ResolutionOracle.Winners(ResolutionOracle.Candidates(config, srcGroup, dst));
                if (winners.Select(w => w.Rule.Action).Distinct().Count() > 1) stats.DecidedByTie++;
                if (oracle == RuleAction.Allow)
                {
                    stats.AllowedAt[src]++;
                    if (src == 0) stats.UntaggedAllowed++;
                    if (winners[0].DstDistance + winners[0].SrcDistance > 0) stats.Inherited++;
                }
                else if (src != 0) stats.DeniedGroupAt[src]++;
            }
        }
    }
}
