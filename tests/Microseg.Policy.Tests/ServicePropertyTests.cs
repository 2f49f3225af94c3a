// Services against the oracle: random forests whose rules name random services (overlapping
// and touching port ranges, protocol-only rules, portless protocols, ties), random packets
// (protocol, port at and beside range ends, no port), checked three ways for all 65,536 source
// marks of sampled destinations: the oracle (the text of the semantics, literally), Explain,
// and the compiled words and service entries looked up as the data plane does. Every forest
// comes from its own seed, printed on failure; MICROSEG_PROPERTY_SEED moves the first seed.
using Microseg.Policy;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class ServicePropertyTests(ITestOutputHelper output)
{
    private const int Forests = 600;
    private const int PacketsPerForest = 24;
    private const int MarkSpace = ushort.MaxValue + 1;

    private static int FirstSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("MICROSEG_PROPERTY_SEED"), out var s) ? s : 20261128;

    [Fact]
    public void Explain_and_the_compiled_maps_give_every_source_mark_the_verdict_of_the_oracle_for_random_packets()
    {
        int first = FirstSeed + 3_000_000;
        output.WriteLine($"forests {Forests}, seeds {first}..{first + Forests - 1}");
        var stats = new Coverage();
        for (int i = 0; i < Forests; i++)
        {
            int seed = first + i;
            var rng = new Random(seed);
            var config = RandomPolicies.Forest(rng, maxGroups: rng.Next(2) == 0 ? 8 : 24, ties: i % 3 == 2, services: true);
            config = Remark(config, rng);
            try
            {
                CheckForest(config, rng, stats);
            }
            catch (Exception e) when (e is not ForestFailure)
            {
                throw new ForestFailure($"forest seed {seed} fails; MICROSEG_PROPERTY_SEED={seed - 3_000_000} makes it the first forest; its config:\n{SectionConfig.Write(config)}", e);
            }
        }
        output.WriteLine(stats.ToString());
        // The generator must produce what the test claims to cover, or it passes vacuously.
        Assert.True(stats.ByPortRule > 2000, $"only {stats.ByPortRule} verdicts decided by a port rule");
        Assert.True(stats.ByProtoRule > 2000, $"only {stats.ByProtoRule} verdicts decided by a protocol-only rule");
        Assert.True(stats.ServiceBeatenByCloser > 500, $"only {stats.ServiceBeatenByCloser} verdicts where a matching service rule lost to a closer rule without one");
        Assert.True(stats.ServiceTies > 100, $"only {stats.ServiceTies} verdicts decided by a tie among service rules");
        Assert.True(stats.AtRangeEdge > 2000, $"only {stats.AtRangeEdge} packets on a range end");
        Assert.True(stats.BesideRangeEdge > 2000, $"only {stats.BesideRangeEdge} packets just outside a range");
        Assert.True(stats.Portless > 2000, $"only {stats.Portless} packets without a port");
        Assert.True(stats.ServiceBitWords > 500, $"only {stats.ServiceBitWords} words with a Service bit");
        Assert.True(stats.MultiRangeEntries > 100, $"only {stats.MultiRangeEntries} entries with more than one range");
        Assert.True(stats.UntaggedEntries > 50, $"only {stats.UntaggedEntries} entries for untagged sources");
        Assert.True(stats.InheritedService > 2000, $"only {stats.InheritedService} verdicts decided by an inherited service rule");
        Assert.True(stats.Allowed > 5000 && stats.Denied > 5000, stats.ToString());
    }

    private sealed class Coverage
    {
        public int Allowed, Denied, ByPortRule, ByProtoRule, ServiceBeatenByCloser, ServiceTies, AtRangeEdge, BesideRangeEdge, Portless,
            ServiceBitWords, MultiRangeEntries, UntaggedEntries, InheritedService, MaxRanges;

        public override string ToString() =>
            $"allowed {Allowed}, denied {Denied}, by a port rule {ByPortRule}, by a protocol rule {ByProtoRule}, " +
            $"service rule beaten by a closer one {ServiceBeatenByCloser}, service ties {ServiceTies}, " +
            $"packets on a range end {AtRangeEdge}, beside one {BesideRangeEdge}, without a port {Portless}, " +
            $"words with a Service bit {ServiceBitWords}, entries with several ranges {MultiRangeEntries} (most {MaxRanges}), " +
            $"untagged entries {UntaggedEntries}, inherited service rule decides {InheritedService}";
    }

    private sealed class ForestFailure(string message, Exception inner) : XunitException(message, inner);

    /// <summary>The same forest and rules with marks that share words and sit on word ends,
    /// and rule ids derived from the new marks.</summary>
    private static PolicyConfig Remark(PolicyConfig config, Random rng)
    {
        var remarked = RandomPolicies.Remark(config, rng, [1, 63, 64, 65, 127, 128, 65472, 65534, 65535]);
        var rules = remarked.Rules.Values.Select(r => r.Id.StartsWith("tie", StringComparison.Ordinal) ? r : r with { Id = remarked.DerivedRuleId(r.Key)! });
        return PolicyConfig.Create(remarked.Groups.Values, rules);
    }

    private static Packet RandomPacket(Random rng, PolicyConfig config)
    {
        byte[] protos = [Service.Tcp, Service.Tcp, Service.Tcp, Service.Udp, Service.Sctp, Service.Icmp, Service.Icmpv6, 47, 50];
        var proto = protos[rng.Next(protos.Length)];
        if (!Service.HasPorts(proto) || rng.Next(8) == 0) return new Packet(proto, null); // later fragments carry no port
        // Mostly on or beside the ends of ranges the rules name.
        var ends = config.Rules.Values.Select(r => r.Service?.Ports).OfType<PortRange>().SelectMany(r => new[] { r.Lo, r.Hi }).ToList();
        if (ends.Count == 0 || rng.Next(5) == 0) return new Packet(proto, RandomPolicies.Ports[rng.Next(RandomPolicies.Ports.Length)]);
        int port = ends[rng.Next(ends.Count)] + rng.Next(-1, 2);
        return new Packet(proto, (ushort)Math.Clamp(port, 1, 65535));
    }

    private static void CheckForest(PolicyConfig config, Random rng, Coverage stats)
    {
        Assert.All(config.Rules.Values.Where(r => !r.Id.StartsWith("tie", StringComparison.Ordinal)), r => Assert.Null(r.Service?.Problem()));
        var engine = new PolicyEngine(config);
        var groups = config.Groups.Keys.ToArray();

        // A host compiles only its own destinations (any order, perhaps twice).
        var sample = groups.Where(_ => rng.Next(3) == 0).ToList();
        if (sample.Count == 0) sample.Add(groups[rng.Next(groups.Length)]);
        if (rng.Next(2) == 0) sample.Add(sample[rng.Next(sample.Count)]);
        sample = [.. sample.OrderBy(_ => rng.Next())];
        var words = engine.CompileMasks(sample);
        var entries = engine.CompileServices(sample);
        var sampleMarks = sample.Select(g => (ushort)config.Groups[g].Mark!.Value).ToHashSet();

        // Shape: words sorted and unique, none empty; entries sorted by (dst, src, proto) and
        // unique; ranges disjoint, sorted, merged, none with the Otherwise action; the Service
        // bit set exactly for the pairs that have entries; the whole-forest compile agrees.
        Assert.Equal(words.OrderBy(w => w.Dst).ThenBy(w => w.SrcHi), words);
        Assert.Equal(words.Count, words.Select(w => (w.Dst, w.SrcHi)).Distinct().Count());
        Assert.All(words, w => Assert.NotEqual(0UL, w.Allow | w.Service));
        Assert.Equal(entries.OrderBy(e => e.Dst).ThenBy(e => e.Src).ThenBy(e => e.Proto), entries);
        Assert.Equal(entries.Count, entries.Select(e => (e.Dst, e.Src, e.Proto)).Distinct().Count());
        foreach (var e in entries)
        {
            for (int k = 0; k < e.Ports.Count; k++)
            {
                Assert.True(e.Ports[k].Lo <= e.Ports[k].Hi, $"entry {e}: range {k} reversed");
                Assert.NotEqual(e.Otherwise, e.Ports[k].Action);
                if (k > 0) Assert.True(e.Ports[k - 1].Hi + 1 < e.Ports[k].Lo, $"entry {e}: ranges {k - 1} and {k} overlap or touch");
            }
            if (e.Ports.Count > 1) stats.MultiRangeEntries++;
            stats.MaxRanges = Math.Max(stats.MaxRanges, e.Ports.Count);
            if (e.Src == 0) stats.UntaggedEntries++;
        }
        var withEntries = entries.Select(e => (e.Dst, e.Src)).ToHashSet();
        foreach (var w in words)
            for (int b = 0; b < VerdictWord.SourcesPerWord; b++)
                Assert.Equal(withEntries.Contains((w.Dst, (ushort)(w.SrcHi * VerdictWord.SourcesPerWord + b))), ((w.Service >> b) & 1) == 1);
        stats.ServiceBitWords += words.Count(w => w.Service != 0);
        var all = engine.CompileAll(groups);
        Assert.Equal(all.Words.Where(w => sampleMarks.Contains(w.Dst)), words);
        Assert.Equal(all.Services.Where(e => sampleMarks.Contains(e.Dst)), entries);

        var wordAt = words.ToDictionary(w => (w.Dst, w.SrcHi));
        var entryAt = entries.ToDictionary(e => (e.Dst, e.Src, e.Proto));
        var groupAt = new string?[MarkSpace];
        foreach (var g in groups) groupAt[config.Groups[g].Mark!.Value] = g;
        var packets = Enumerable.Range(0, PacketsPerForest).Select(_ => RandomPacket(rng, config)).ToList();
        var ends = config.Rules.Values.Select(r => r.Service?.Ports).OfType<PortRange>().ToList();

        foreach (var dst in sample.Distinct())
        {
            ushort dstMark = (ushort)config.Groups[dst].Mark!.Value;
            for (int src = 0; src < MarkSpace; src++)
            {
                string? srcGroup = groupAt[src];
                if (src != 0 && srcGroup is null)
                {
                    // A mark no group holds is never stamped: the maps must deny it whatever the packet.
                    if (wordAt.TryGetValue((dstMark, (ushort)(src >> VerdictWord.Shift)), out var stray))
                        Assert.True(((stray.Allow | stray.Service) >> (src & 63) & 1) == 0, $"unassigned source mark {src} -> {dst} has a bit");
                    continue;
                }
                var where = $"{srcGroup ?? "untagged"} (mark {src}) -> {dst} (mark {dstMark})";
                var noService = engine.Explain(srcGroup, dst);
                Assert.True(ResolutionOracle.Verdict(config, srcGroup, dst) == noService.Verdict, $"{where}: no-service verdict {noService.Verdict} differs from the oracle");
                bool dependsSeen = false;
                foreach (var packet in packets)
                {
                    var oracle = ResolutionOracle.Verdict(config, srcGroup, dst, packet);
                    var explained = engine.Explain(srcGroup, dst, packet);
                    var compiled = Lookup(wordAt, entryAt, dstMark, (ushort)src, packet);
                    Assert.True(oracle == explained.Verdict, $"{where} {packet}: Explain says {explained.Verdict}, the oracle {oracle}");
                    Assert.True(oracle == compiled, $"{where} {packet}: the compiled maps say {compiled}, the oracle {oracle}");
                    if (explained.Rule is { } rule)
                        Assert.True(explained.Candidates.Any(c => c.Rule == rule) && ResolutionOracle.Matches(rule, packet), $"{where} {packet}: deciding rule {rule.Id} is not a matching candidate");
                    dependsSeen |= oracle != noService.Verdict;
                    Count(stats, config, srcGroup, dst, packet, explained, ends);
                }
                // Depends on the service: some packet gets another verdict (a sampled one
                // proves it); and so does every per-service line that says so.
                if (dependsSeen) Assert.True(noService.DependsOnService, $"{where}: a packet differs from the no-service verdict, but DependsOnService is false");
                foreach (var v in noService.PerService)
                {
                    var probes = v.Service.Ports is { } r ? new[] { r.Lo, r.Hi } : [];
                    foreach (var port in probes)
                        Assert.True(engine.Verdict(srcGroup, dst, new Packet(v.Service.Proto, port)) == v.Verdict, $"{where}: per service {v.Service} says {v.Verdict}, port {port} differs");
                }
                bool serviceBit = wordAt.TryGetValue((dstMark, (ushort)(src >> VerdictWord.Shift)), out var word) && (word.Service >> (src & 63) & 1) == 1;
                Assert.True(serviceBit == noService.DependsOnService, $"{where}: Service bit {serviceBit}, DependsOnService {noService.DependsOnService}");
            }
        }
    }

    /// <summary>What the data plane does: the word of (dst, src >> 6); no word denies; a
    /// Service bit sends the packet to the entry of (dst, src, proto), whose range holding the
    /// port decides, else its Otherwise; without an entry (or a Service bit) the Allow bit decides.</summary>
    private static RuleAction Lookup(Dictionary<(ushort, ushort), VerdictWord> words, Dictionary<(ushort, ushort, byte), ServiceEntry> entries, ushort dst, ushort src, Packet packet)
    {
        if (!words.TryGetValue((dst, (ushort)(src >> 6)), out var w)) return RuleAction.Deny;
        int bit = src & 63;
        if ((w.Service >> bit & 1) == 1 && entries.TryGetValue((dst, src, packet.Proto), out var e))
        {
            if (packet.Port is { } port)
                foreach (var r in e.Ports)
                    if (port >= r.Lo && port <= r.Hi) return r.Action;
            return e.Otherwise;
        }
        return (w.Allow >> bit & 1) == 1 ? RuleAction.Allow : RuleAction.Deny;
    }

    private static void Count(Coverage stats, PolicyConfig config, string? src, string dst, Packet packet, Explanation e, List<PortRange> ends)
    {
        if (e.Verdict == RuleAction.Allow) stats.Allowed++; else stats.Denied++;
        if (packet.Port is not { } port) stats.Portless++;
        else
        {
            if (ends.Any(r => r.Lo == port || r.Hi == port)) stats.AtRangeEdge++;
            if (ends.Any(r => r.Lo == port + 1 || r.Hi + 1 == port)) stats.BesideRangeEdge++;
        }
        if (e.Rule?.Service is { } s)
        {
            if (s.Ports is null) stats.ByProtoRule++; else stats.ByPortRule++;
            var winner = e.Candidates.First(c => c.Rule == e.Rule);
            if (winner.DstDistance + winner.SrcDistance > 0) stats.InheritedService++;
        }
        var matching = ResolutionOracle.Candidates(config, src, dst).Where(c => ResolutionOracle.Matches(c.Rule, packet)).ToList();
        if (e.Rule is { Service: null } && matching.Any(c => c.Rule.Service is not null)) stats.ServiceBeatenByCloser++;
        if (matching.Count > 0)
        {
            var best = matching.Min(c => (c.DstDistance, c.SrcDistance, ResolutionOracle.Specificity(c.Rule)));
            var winners = matching.Where(c => (c.DstDistance, c.SrcDistance, ResolutionOracle.Specificity(c.Rule)) == best).ToList();
            if (winners.Count > 1 && winners.Any(w => w.Rule.Service is not null) && winners.Select(w => w.Rule.Action).Distinct().Count() > 1) stats.ServiceTies++;
        }
    }
}
