// Reading one pair's part of microseg.cfg (what explain needs): the same answer as the whole
// config for random forests with services, problems of the objects it reads named as a full
// read names them, and a file whose structure is broken reported whole.
using System.Text;
using Microseg.Policy;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class PairReadTests
{
    [Fact]
    public void The_pair_read_explains_every_pair_as_the_whole_config_does()
    {
        const int first = 20261128 + 4_000_000;
        int candidates = 0, skipped = 0;
        for (int i = 0; i < 300; i++)
        {
            var rng = new Random(first + i);
            var config = RandomPolicies.Forest(rng, maxGroups: 24, ties: false, services: true);
            var bytes = SectionConfig.WriteBytes(config);
            var whole = new PolicyEngine(config);
            var groups = config.Groups.Keys.ToArray();
            try
            {
                foreach (var src in new string?[] { null }.Concat(groups))
                    foreach (var dst in groups.Where(_ => rng.Next(3) == 0))
                    {
                        var slice = SectionConfig.ParsePair(bytes, "t.cfg", src, dst);
                        Assert.True(slice.Groups.Count <= 2 * RandomPolicies.MaxDepth + 2, $"{slice.Groups.Count} groups read for one pair");
                        skipped += config.Rules.Count - slice.Rules.Count;
                        var part = new PolicyEngine(slice);
                        var expected = whole.Explain(src, dst);
                        var actual = part.Explain(src, dst);
                        Assert.Equal(Describe(expected), Describe(actual));
                        candidates += actual.Candidates.Count;
                        var packet = new Packet(RandomPolicies.Protocols[rng.Next(RandomPolicies.Protocols.Length)], RandomPolicies.Ports[rng.Next(RandomPolicies.Ports.Length)]);
                        Assert.Equal(Describe(whole.Explain(src, dst, packet)), Describe(part.Explain(src, dst, packet)));
                    }
            }
            catch (Exception e)
            {
                throw new XunitException($"seed {first + i}:\n{Encoding.UTF8.GetString(bytes)}", e);
            }
        }
        Assert.True(candidates > 5000, $"only {candidates} candidates compared");
        Assert.True(skipped > 50_000, $"only {skipped} rules left unread");
    }

    [Fact]
    public void The_pair_read_of_the_snapshot_explains_every_pair_as_the_whole_snapshot_does()
    {
        const int first = 20261128 + 5_000_000;
        int candidates = 0;
        for (int i = 0; i < 150; i++)
        {
            var rng = new Random(first + i);
            var config = RandomPolicies.Forest(rng, maxGroups: 24, ties: false, services: true);
            var json = SnapshotFormat.Write(new Snapshot(7, config));
            var whole = new PolicyEngine(config);
            foreach (var src in new string?[] { null }.Concat(config.Groups.Keys.Where(_ => rng.Next(2) == 0)))
                foreach (var dst in config.Groups.Keys.Where(_ => rng.Next(3) == 0))
                {
                    var slice = SnapshotFormat.ReadPair(json, "rc.json", src, dst);
                    Assert.Equal(7, slice.Version);
                    Assert.True(slice.Config.Groups.Count <= 2 * RandomPolicies.MaxDepth + 2);
                    var actual = new PolicyEngine(slice.Config).Explain(src, dst);
                    Assert.Equal(Describe(whole.Explain(src, dst)), Describe(actual));
                    candidates += actual.Candidates.Count;
                }
        }
        Assert.True(candidates > 2000, $"only {candidates} candidates compared");
    }

    [Fact]
    public void A_snapshot_of_another_shape_is_read_whole()
    {
        var config = SectionConfig.Parse(File, "t.cfg");
        var inner = Encoding.UTF8.GetString(SnapshotFormat.Write(new Snapshot(3, config)));
        var sdn = Encoding.UTF8.GetBytes($"{{\"zones\": {{}}, \"microseg\": {inner}}}");
        Assert.Equal(4, SnapshotFormat.ReadPair(sdn, "rc.json", "web", "db").Config.Groups.Count);
        var truncated = SnapshotFormat.Write(new Snapshot(3, config))[..200];
        var whole = Assert.Throws<ConfigException>(() => SnapshotFormat.Read(truncated, "rc.json"));
        var pair = Assert.Throws<ConfigException>(() => SnapshotFormat.ReadPair(truncated, "rc.json", "web", "db"));
        Assert.Equal(whole.Message, pair.Message);
    }

    private static string Describe(Explanation e) =>
        $"{e.Verdict} {e.Rule?.Id} {e.Reason} {e.DependsOnService} [{string.Join(", ", e.Candidates.Select(c => $"{c.Rule.Id}:{c.DstDistance}/{c.SrcDistance}"))}] " +
        $"[{string.Join(", ", e.PerService.Select(v => $"{v.Service} {v.Verdict} {v.Rule?.Id}"))}]";

    private const string File =
        "group: app\n\tmark 1\n\n" +
        "group: web\n\tmark 2\n\tparent app\n\n" +
        "group: db\n\tmark 3\n\n" +
        "group: other\n\tmark 4\n\n" +
        "rule: p2-3\n\tsrc web\n\tdst db\n\taction allow\n\n" +
        "rule: p1-3-tcp22\n\tsrc app\n\tdst db\n\tproto tcp\n\tdport 22\n\taction deny\n\n" +
        "rule: p4-3\n\tsrc other\n\tdst db\n\taction allow\n";

    [Fact]
    public void Only_the_chains_and_the_rules_between_them_are_read()
    {
        var slice = SectionConfig.ParsePair(Encoding.UTF8.GetBytes(File), "t.cfg", "web", "db");
        Assert.Equal(["app", "db", "web"], slice.Groups.Keys);
        Assert.Equal(["p1-3-tcp22", "p2-3"], slice.Rules.Keys);
        Assert.Equal("t.cfg:19", slice.Source!.Locate(ObjectType.Rule, "p1-3-tcp22"));
        Assert.Equal(SectionConfig.Parse(File, "t.cfg").Source!.Locate(ObjectType.Group, "web"), slice.Source.Locate(ObjectType.Group, "web"));
        Assert.Equal(["db"], SectionConfig.ParsePair(Encoding.UTF8.GetBytes(File), "t.cfg", null, "db").Groups.Keys);
        Assert.Empty(SectionConfig.ParsePair(Encoding.UTF8.GetBytes(File), "t.cfg", "ghost", "nothing").Groups);
    }

    [Fact]
    public void A_problem_in_what_it_reads_is_named_as_the_full_read_names_it()
    {
        var bad = File.Replace("\tdport 22\n", "\tdport 22-2\n").Replace("group: web\n\tmark 2\n", "group: web\n\tmark two\n");
        var whole = Assert.Throws<ConfigException>(() => SectionConfig.Parse(bad, "t.cfg"));
        var pair = Assert.Throws<ConfigException>(() => SectionConfig.ParsePair(Encoding.UTF8.GetBytes(bad), "t.cfg", "web", "db"));
        Assert.Equal(whole.Problems, pair.Problems);
        Assert.Equal(2, pair.Problems.Count);
    }

    [Fact]
    public void A_problem_in_an_unrelated_object_does_not_stop_the_answer()
    {
        var bad = File.Replace("rule: p4-3\n\tsrc other\n\tdst db\n\taction allow\n", "rule: p4-3\n\tsrc other\n\tdst db\n\taction maybe\n");
        Assert.Throws<ConfigException>(() => SectionConfig.Parse(bad, "t.cfg"));
        var slice = SectionConfig.ParsePair(Encoding.UTF8.GetBytes(bad), "t.cfg", "web", "db");
        Assert.Equal(RuleAction.Allow, new PolicyEngine(slice).Verdict("web", "db"));
    }

    [Theory]
    [InlineData("widget: w\n\tsize 1\n")]          // an unknown section type
    [InlineData("\tmark 9\n")]                     // a property outside a section
    [InlineData("group: db\n\tmark 30\n")]         // a group defined twice
    [InlineData("group:\n\tmark 30\n")]            // a header without an id
    public void A_file_whose_structure_is_broken_is_reported_whole(string broken)
    {
        var text = broken + "\n" + File;
        var whole = Assert.Throws<ConfigException>(() => SectionConfig.Parse(text, "t.cfg"));
        var pair = Assert.Throws<ConfigException>(() => SectionConfig.ParsePair(Encoding.UTF8.GetBytes(text), "t.cfg", "web", "db"));
        Assert.Equal(whole.Problems, pair.Problems);
    }

    [Fact]
    public void A_parent_cycle_on_a_chain_is_read_and_validation_names_it()
    {
        var text = File.Replace("group: app\n\tmark 1\n", "group: app\n\tmark 1\n\tparent web\n");
        var slice = SectionConfig.ParsePair(Encoding.UTF8.GetBytes(text), "t.cfg", "web", "db");
        Assert.Contains(Validation.Check(slice), p => p.Message == "parent cycle: app -> web -> app");
    }
}
