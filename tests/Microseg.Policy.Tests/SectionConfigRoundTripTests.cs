// Writing microseg.cfg back: parse -> write -> parse gives the same model, an unchanged model
// is written byte-identically, comments stay, CRLF and `allow 1|0` are read.
using System.Text;
using Microseg.Policy;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class SectionConfigRoundTripTests(ITestOutputHelper output)
{
    private static PolicyConfig Parse(string text) => SectionConfig.Parse(text, "t.cfg");

    [Fact]
    public void Example_file_is_written_back_byte_identically()
    {
        var bytes = Examples.WorkedExampleBytes;
        var config = SectionConfig.Parse(bytes, "microseg.cfg");
        Assert.Equal(Encoding.UTF8.GetString(bytes), SectionConfig.Write(config));
        Assert.Equal(bytes, SectionConfig.WriteBytes(config));
        ModelAssert.SameModel(config, SectionConfig.Parse(SectionConfig.WriteBytes(config), "microseg.cfg"));
    }

    [Fact]
    public void Spec_3_1_example_parses_to_the_objects_it_shows()
    {
        const string spec = "group: app\n\tmark 10\n\tcomment application tier\n\ngroup: web\n\tmark 11\n\tparent app\n\n" +
            "group: db\n\tmark 20\n\nrule: p20-11\n\tsrc db\n\tdst web\n\taction allow\n\n" +
            "assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup web\n\nbridge: eth1\n\tnodes node1,node2\n";
        var config = Parse(spec);
        Assert.Equal(
            [
                new Group("app", 10, null, "application tier"), new Group("db", 20), new Group("web", 11, "app"),
                new Rule("p20-11", "db", "web", RuleAction.Allow),
                new Assignment(100, 0, "web"),
                new Bridge("eth1", new ValueList<string>(["node1", "node2"])),
            ],
            config.Objects.ToList());
        Assert.Empty(Validation.Check(config));
    }

    [Fact]
    public void Random_configs_round_trip_and_are_written_byte_identically()
    {
        const int seed = 4242;
        output.WriteLine($"seeds {seed}..{seed + 999}");
        for (int i = 0; i < 1000; i++)
        {
            var config = RandomConfigs.Any(new Random(seed + i));
            var text = SectionConfig.Write(config);
            try
            {
                var parsed = SectionConfig.Parse(SectionConfig.WriteBytes(config), "t.cfg");
                ModelAssert.SameModel(config, parsed);
                Assert.Equal(text, SectionConfig.Write(parsed));
            }
            catch (Exception e)
            {
                throw new XunitException($"seed {seed + i}: config does not round-trip:\n{text}", e);
            }
        }
    }

    [Fact]
    public void A_valid_config_with_an_empty_comment_is_written_so_that_it_reads_back()
    {
        // Validation accepts an empty comment (the CLI stores one for --comment ""), so the
        // writer must not turn it into "comment" with no value, which the parser rejects.
        var config = PolicyConfig.Create(
            [new Group("web", 10, Comment: ""), new Group("db", 20)],
            [new Rule("p20-10", "db", "web", RuleAction.Allow, Comment: "")]);
        Assert.Empty(Validation.Check(config));
        var reread = SectionConfig.Parse(SectionConfig.WriteBytes(config), "t.cfg");
        Assert.Equal(["db", "web"], reread.Groups.Keys);
        Assert.Equal(["p20-10"], reread.Rules.Keys);
    }

    [Fact]
    public void Writing_is_in_canonical_order_whatever_the_input_order()
    {
        const string messy = "bridge: eth1\n\ngroup: web\n    mark 10\n\nrule: p0-10\n  action deny\n  dst web\n\n\n\ngroup: db\n\tmark 20\n";
        var config = Parse(messy);
        const string canonical = "group: db\n\tmark 20\n\ngroup: web\n\tmark 10\n\nrule: p0-10\n\tdst web\n\taction deny\n\nbridge: eth1\n";
        Assert.Equal(canonical, SectionConfig.Write(config));
        Assert.Equal(canonical, SectionConfig.Write(Parse(canonical)));
    }

    [Fact]
    public void Comments_above_sections_and_at_the_end_are_preserved()
    {
        const string text =
            "# pending microseg policy\n# owner: ops\ngroup: db\n\tmark 20\n\n" +
            "group: web\n\tmark 10\n\n" +
            "# web may reach db\nrule: p10-20\n\tsrc web\n\tdst db\n\taction allow\n\n" +
            "# end of file\n";
        var config = Parse(text);
        Assert.Equal(text, SectionConfig.Write(config));
        Assert.Equal(["# pending microseg policy", "# owner: ops"], config.Comments[SourceInfo.Key(ObjectType.Group, "db")].ToArray());
        Assert.Equal(["# web may reach db"], config.Comments[SourceInfo.Key(ObjectType.Rule, "p10-20")].ToArray());
        Assert.Equal(["# end of file"], config.TrailingComments.ToArray());
    }

    [Fact]
    public void Comments_stay_with_their_section_when_sections_are_reordered_or_others_change()
    {
        const string text = "# about web\ngroup: web\n\tmark 10\n\n# about db\ngroup: db\n\tmark 20\n";
        var config = Parse(text).Put(new Group("app", 5)).Remove(ObjectType.Group, "db");
        var written = SectionConfig.Write(config);
        Assert.Equal("group: app\n\tmark 5\n\n# about web\ngroup: web\n\tmark 10\n", written);
    }

    [Fact]
    public void A_comment_inside_a_section_is_kept_with_that_section()
    {
        const string text = "group: web\n\tmark 10\n\t# chosen by ops\n\tcomment web tier\n";
        var written = SectionConfig.Write(Parse(text));
        Assert.Contains("# chosen by ops", written);
        var reparsed = Parse(written);
        Assert.Equal(["\t# chosen by ops"], reparsed.Comments[SourceInfo.Key(ObjectType.Group, "web")].ToArray());
        Assert.Equal(written, SectionConfig.Write(reparsed));
    }

    [Fact]
    public void Crlf_input_gives_the_same_model_as_lf()
    {
        var lf = Encoding.UTF8.GetString(Examples.WorkedExampleBytes);
        var crlf = lf.Replace("\n", "\r\n");
        var fromCrlf = SectionConfig.Parse(Encoding.UTF8.GetBytes(crlf), "t.cfg");
        ModelAssert.SameModel(Parse(lf), fromCrlf);
        Assert.Equal(lf, SectionConfig.Write(fromCrlf));
    }

    [Fact]
    public void Allow_1_and_0_are_read_as_allow_and_deny()
    {
        var config = Parse("rule: p1-2\n\tsrc a\n\tdst b\n\tallow 1\n\nrule: p2-1\n\tsrc b\n\tdst a\n\tallow 0\n");
        Assert.Equal(RuleAction.Allow, config.Rules["p1-2"].Action);
        Assert.Equal(RuleAction.Deny, config.Rules["p2-1"].Action);
        // Written in the one canonical form, which reads back the same.
        ModelAssert.SameModel(config, Parse(SectionConfig.Write(config)));
        Assert.Contains("\taction allow\n", SectionConfig.Write(config));
    }

    [Fact]
    public void Any_leading_whitespace_indents_a_property()
    {
        var config = Parse("group: web\n mark 10\n  \t parent app\n\tcomment  spaced   out  \n");
        Assert.Equal(new Group("web", 10, "app", "spaced   out"), config.Groups["web"]);
    }

    [Fact]
    public void Empty_and_comment_only_files_are_empty_configs()
    {
        Assert.Equal(0, Parse("").Count);
        Assert.Equal(0, Parse("\n\n").Count);
        var commented = Parse("# nothing yet\n");
        Assert.Equal(0, commented.Count);
        Assert.Equal("# nothing yet\n", SectionConfig.Write(commented));
    }

    [Fact]
    public void Objects_remember_the_line_of_their_header()
    {
        var config = SectionConfig.Parse(Examples.WorkedExampleBytes, "/etc/microseg/microseg.cfg");
        Assert.Equal("/etc/microseg/microseg.cfg:2", config.Source!.Locate(ObjectType.Group, "db"));
        Assert.Equal("/etc/microseg/microseg.cfg:18", config.Source!.Locate(ObjectType.Rule, "p10-20"));
    }
}
