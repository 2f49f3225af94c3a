// SPEC §3.3: every semantic error is reported with a message naming the object (and, for a
// config read from a file, file:line).
using System.Text;
using Microseg.Policy;

namespace Microseg.Policy.Tests;

public sealed class ValidationTests
{
    private const string File = "v.cfg";

    private static IReadOnlyList<ConfigProblem> Check(string text) => Validation.Check(SectionConfig.Parse(text, File));

    /// <summary>The one problem whose text has every fragment; fails listing all problems otherwise.</summary>
    private static ConfigProblem Problem(IReadOnlyList<ConfigProblem> problems, params string[] fragments)
    {
        var matching = problems.Where(p => fragments.All(f => p.ToString().Contains(f, StringComparison.Ordinal))).ToList();
        Assert.True(matching.Count == 1,
            $"expected one problem with [{string.Join("] [", fragments)}], got:\n  {string.Join("\n  ", problems)}");
        return matching[0];
    }

    [Fact]
    public void Worked_example_is_valid()
    {
        Assert.Empty(Validation.Check(Examples.WorkedExample));
        Validation.Ensure(Examples.WorkedExample);
    }

    [Fact]
    public void Duplicate_mark_names_both_groups_and_the_line()
    {
        var problems = Check("group: a\n\tmark 5\n\ngroup: b\n\tmark 5\n");
        var p = Problem(problems, "group 'b'", "mark 5", "'a'");
        Assert.Equal($"{File}:4", p.Where);
        Assert.Single(problems);
    }

    [Fact]
    public void Mark_0_is_reserved()
    {
        var p = Problem(Check("group: a\n\tmark 0\n"), "group 'a'", "mark 0");
        Assert.Equal($"{File}:1", p.Where);
    }

    [Theory]
    [InlineData(65536)]
    [InlineData(100000)]
    [InlineData(int.MaxValue)]
    public void Mark_above_65535_is_out_of_range(int mark)
    {
        Problem(Check($"group: a\n\tmark {mark}\n"), "group 'a'", $"mark {mark}", "65535");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(65535)]
    public void Marks_at_the_ends_of_the_range_are_valid(int mark)
    {
        Assert.Empty(Check($"group: a\n\tmark {mark}\n"));
    }

    [Fact]
    public void Unknown_parent()
    {
        var p = Problem(Check("group: a\n\tmark 1\n\ngroup: b\n\tmark 2\n\tparent nosuch\n"), "group 'b'", "unknown parent", "'nosuch'");
        Assert.Equal($"{File}:4", p.Where);
    }

    [Fact]
    public void Parent_cycle_names_every_group_in_it_once()
    {
        var problems = Validation.Check(PolicyConfig.Create(
        [
            new Group("c", 3, "a"), new Group("a", 1, "b"), new Group("b", 2, "c"),
            new Group("leaf", 4, "a"), new Group("root", 5), new Group("kid", 6, "root"),
        ]));
        var p = Problem(problems, "parent cycle");
        Assert.Contains("a -> b -> c -> a", p.Message);   // in parent order, from the smallest name
        Assert.DoesNotContain("leaf", p.Message);
        Assert.DoesNotContain("root", p.Message);
        Assert.Single(problems);
    }

    [Fact]
    public void Two_separate_cycles_are_two_problems()
    {
        var problems = Validation.Check(PolicyConfig.Create(
            [new Group("a", 1, "b"), new Group("b", 2, "a"), new Group("x", 3, "y"), new Group("y", 4, "x")]));
        Problem(problems, "parent cycle", "a -> b -> a");
        Problem(problems, "parent cycle", "x -> y -> x");
    }

    [Fact]
    public void Own_parent_is_a_cycle()
    {
        var problems = Check("group: a\n\tmark 1\n\tparent a\n");
        Assert.NotEmpty(problems);
        Assert.All(problems, p => Assert.Contains("group 'a'", p.ToString()));
        Assert.Contains(problems, p => p.Message.Contains("parent"));
    }

    [Theory]
    [InlineData("src nosuch\n\tdst a", "unknown src group 'nosuch'")]
    [InlineData("src a\n\tdst nosuch", "unknown dst group 'nosuch'")]
    public void Rule_with_unknown_group(string props, string message)
    {
        var p = Problem(Check($"group: a\n\tmark 1\n\nrule: r1\n\t{props}\n\taction allow\n"), "rule 'r1'", message);
        Assert.Equal($"{File}:4", p.Where);
    }

    [Fact]
    public void Two_rules_for_the_same_pair_name_both_rules()
    {
        var config = PolicyConfig.Create(
            [new Group("a", 1), new Group("b", 2)],
            [new Rule("p1-2", "a", "b", RuleAction.Allow), new Rule("p1-2x", "a", "b", RuleAction.Deny)]);
        var problems = Validation.Check(config);
        Problem(problems, "rule 'p1-2x'", "'p1-2'", "already covers a -> b");
    }

    [Fact]
    public void Two_untagged_rules_for_the_same_dst()
    {
        var config = PolicyConfig.Create(
            [new Group("a", 1)],
            [new Rule("p0-1", null, "a", RuleAction.Allow), new Rule("zz", null, "a", RuleAction.Deny)]);
        Problem(Validation.Check(config), "rule 'zz'", "'p0-1'", "already covers untagged -> a");
    }

    [Fact]
    public void Rule_id_not_matching_the_derived_id_names_both_ids()
    {
        var problems = Check("group: db\n\tmark 20\n\ngroup: web\n\tmark 10\n\nrule: p1-2\n\tsrc db\n\tdst web\n\taction allow\n");
        var p = Problem(problems, "rule 'p1-2'", "'p20-10'");
        Assert.Equal($"{File}:7", p.Where);
        Assert.Single(problems);
    }

    [Fact]
    public void Untagged_rule_id_derives_from_mark_0()
    {
        Assert.Empty(Check("group: web\n\tmark 10\n\nrule: p0-10\n\tdst web\n\taction allow\n"));
        Problem(Check("group: web\n\tmark 10\n\nrule: p10-10\n\tdst web\n\taction allow\n"), "rule 'p10-10'", "'p0-10'");
    }

    [Fact]
    public void Assignment_to_unknown_group()
    {
        var p = Problem(Check("assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup ghost\n"), "assignment 'vm100i0'", "unknown group 'ghost'");
        Assert.Equal($"{File}:1", p.Where);
    }

    [Theory]
    [InlineData(99, 0, "vmid 99")]
    [InlineData(0, 0, "vmid 0")]
    [InlineData(1_000_000_000, 0, "vmid 1000000000")]
    [InlineData(100, 32, "iface 32")]
    [InlineData(100, 1000, "iface 1000")]
    public void Vmid_and_iface_out_of_range(long vmid, long iface, string message)
    {
        var id = $"vm{vmid}i{iface}";
        var problems = Check($"group: a\n\tmark 1\n\nassignment: {id}\n\tvmid {vmid}\n\tiface {iface}\n\tgroup a\n");
        var p = Problem(problems, $"assignment '{id}'", message, "out of range");
        Assert.Equal($"{File}:4", p.Where);
    }

    [Theory]
    [InlineData(100, 0)]
    [InlineData(999_999_999, 31)]
    public void Vmid_and_iface_at_the_ends_of_their_ranges_are_valid(long vmid, long iface)
    {
        Assert.Empty(Check($"group: a\n\tmark 1\n\nassignment: vm{vmid}i{iface}\n\tvmid {vmid}\n\tiface {iface}\n\tgroup a\n"));
    }

    [Fact]
    public void Same_nic_assigned_twice_in_a_snapshot_is_refused_naming_the_id()
    {
        const string json = """
            { "version": 1, "ids": {
              "a": {"type": "group", "id": "a", "mark": 1},
              "b": {"type": "group", "id": "b", "mark": 2},
              "vm100i0": {"type": "assignment", "id": "vm100i0", "vmid": 100, "iface": 0, "group": "a"},
              "vm100i0": {"type": "assignment", "id": "vm100i0", "vmid": 100, "iface": 0, "group": "b"} } }
            """;
        var e = Assert.Throws<ConfigException>(() => SnapshotFormat.Read(Encoding.UTF8.GetBytes(json), "running-config.json"));
        Assert.Contains("running-config.json", e.Message);
        Assert.Contains("vm100i0", e.Message);
    }

    [Fact]
    public void Same_nic_under_a_second_spelling_in_a_snapshot_is_refused_naming_the_id()
    {
        const string json = """
            { "version": 1, "ids": {
              "a": {"type": "group", "id": "a", "mark": 1},
              "vm100i0": {"type": "assignment", "id": "vm100i0", "vmid": 100, "iface": 0, "group": "a"},
              "vm0100i0": {"type": "assignment", "id": "vm0100i0", "vmid": "0100", "iface": 0, "group": "a"} } }
            """;
        var e = Assert.Throws<ConfigException>(() => SnapshotFormat.Read(Encoding.UTF8.GetBytes(json), "running-config.json"));
        Assert.Contains("vm0100i0", e.Message);
        Assert.Contains("vm100i0", e.Message);
    }

    [Theory]
    [InlineData("eth/1")]
    [InlineData("eth:0")]
    [InlineData("averyveryverylong")]  // 17 characters; Linux allows 15
    [InlineData(".")]
    [InlineData("..")]
    public void Invalid_bridge_interface_name(string name)
    {
        var p = Problem(Check($"group: a\n\tmark 1\n\nbridge: {name}\n"), "bridge", "invalid interface name");
        Assert.Equal($"{File}:4", p.Where);
    }

    [Fact]
    public void Interface_name_with_whitespace_built_in_code()
    {
        Problem(Validation.Check(PolicyConfig.Create(bridges: [new Bridge("eth 1", ValueList<string>.Empty)])), "bridge 'eth 1'", "invalid interface name");
    }

    [Theory]
    [InlineData("eth1")]
    [InlineData("vmbr0.100")]
    [InlineData("fifteen-chars15")]
    public void Valid_bridge_interface_names(string name)
    {
        Assert.Empty(Check($"bridge: {name}\n\tnodes pve1\n"));
    }

    [Theory]
    [InlineData("-node1")]
    [InlineData("node1-")]
    [InlineData("node_1")]
    [InlineData("node.example")]
    public void Invalid_node_name(string node)
    {
        var p = Problem(Check($"bridge: eth1\n\tnodes pve1,{node}\n"), "bridge 'eth1'", $"invalid node name '{node}'");
        Assert.Equal($"{File}:1", p.Where);
    }

    [Fact]
    public void Node_listed_twice()
    {
        Problem(Check("bridge: eth1\n\tnodes pve1,pve2,pve1\n"), "bridge 'eth1'", "twice");
    }

    [Fact]
    public void Group_named_untagged_is_reserved()
    {
        var p = Problem(Check("group: web\n\tmark 2\n\ngroup: untagged\n\tmark 1\n"), "group 'untagged'", "reserved");
        Assert.Equal($"{File}:4", p.Where);
    }

    [Theory]
    [InlineData("1web")]
    [InlineData("web.tier")]
    [InlineData("wéb")]
    public void Invalid_group_name(string name)
    {
        Problem(Check($"group: {name}\n\tmark 1\n"), $"group '{name}'", "invalid group name");
    }

    [Fact]
    public void Invalid_config_problems_carry_no_line_when_built_in_code()
    {
        var p = Assert.Single(Validation.Check(PolicyConfig.Create([new Group("a", 0)])));
        Assert.Equal("", p.Where);
        Assert.Equal("group 'a': mark 0 is reserved for untagged traffic (use 1..65535)", p.ToString());
    }

    [Fact]
    public void Ensure_throws_with_every_problem()
    {
        var config = SectionConfig.Parse("group: a\n\tmark 0\n\ngroup: b\n\tmark 1\n\tparent ghost\n", File);
        var e = Assert.Throws<ConfigException>(() => Validation.Ensure(config));
        Assert.Equal(2, e.Problems.Count);
        Assert.Contains($"{File}:1", e.Message);
        Assert.Contains($"{File}:4", e.Message);
    }

    [Fact]
    public void Groups_without_marks_are_valid_until_commit_assigns_them()
    {
        Assert.Empty(Check("group: a\n\ngroup: b\n\tparent a\n"));
    }

    [Fact]
    public void An_interface_belongs_to_one_forwarder_only()
    {
        var problems = Check("forwarder: net0\n\trouter eth9\n\tphysical eth1,eth2\n\n" +
                             "forwarder: net1\n\trouter eth8\n\tphysical eth2,eth3\n\n" +
                             "forwarder: net2\n\trouter eth1\n\tphysical eth4\n");
        var p = Problem(problems, "forwarder 'net1'", "'eth2'", "'net0'");
        Assert.Equal($"{File}:5", p.Where);
        Problem(problems, "forwarder 'net2'", "'eth1'", "'net0'");
        Assert.Equal(2, problems.Count);
        // '*' is every interface but the routers: two wildcard forwarders do not clash by name.
        Assert.Empty(Check("forwarder: a\n\trouter eth9\n\tphysical *\n\nforwarder: b\n\trouter eth8\n\tphysical eth1\n"));
    }

    [Theory]
    [InlineData("group: a\n\tmark 5\n\ngroup: b\n\tmark 5\n", "mark 5 is already used", "mark")]
    [InlineData("group: a\n\tmark 1\n\tparent nope\n", "unknown parent", "parent")]
    [InlineData("group: a\n\tmark 1\n\tparent b\n\ngroup: b\n\tmark 2\n\tparent a\n", "parent cycle", "parent")]
    [InlineData("group: a\n\tmark 1\n\nrule: p9-1\n\tsrc nope\n\tdst a\n\taction allow\n", "unknown src", "src")]
    [InlineData("group: a\n\tmark 1\n\nrule: p0-1\n\tdst a\n\taction allow\n\nrule: x\n\tdst a\n\taction deny\n", "already covers", "dst")]
    [InlineData("group: a\n\tmark 1\n\nrule: p7-7\n\tdst a\n\taction allow\n", "derived id", null)]
    [InlineData("assignment: vm1i0\n\tvmid 1\n\tiface 0\n\tgroup nope\n", "vmid 1 is out of range", "vmid")]
    [InlineData("assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup nope\n", "unknown group", "group")]
    [InlineData("bridge: eth1\n\tnodes bad_node\n", "invalid node name", "nodes")]
    [InlineData("bridge: a/b\n", "invalid interface name", null)]
    [InlineData("forwarder: f\n\trouter r0\n\tphysical r0\n", "also listed as physical", "router")]
    public void Each_problem_names_the_property_it_is_about(string text, string fragment, string? field)
    {
        Assert.Equal(field, Problem(Check(text), fragment).Field);
    }

    [Fact]
    public void Parse_problems_name_the_key()
    {
        var e = Assert.Throws<ConfigException>(() => SectionConfig.Parse("group: a\n\tmark x\n\tcolour red\n\nrule: r\n\tdst a\n", File));
        Assert.Equal("mark", Problem(e.Problems, "not a whole number").Field);
        Assert.Equal("colour", Problem(e.Problems, "unknown key").Field);
        Assert.Equal("action", Problem(e.Problems, "missing required key 'action'").Field);
    }

    [Fact]
    public void Added_problems_are_compared_as_records_wherever_they_stand()
    {
        var before = Check("group: a\n\tmark 5\n\ngroup: b\n\tmark 5\n");
        // The same problem, moved down two lines by an edit above it: not added.
        var after = Check("# an edit moved every line\n\ngroup: a\n\tmark 5\n\ngroup: b\n\tmark 5\n");
        Assert.NotEqual(before[0].Where, after[0].Where);
        Assert.Empty(Validation.AddedProblems(before, after));
        // The same words about another property are another problem.
        var other = before[0] with { Field = "parent" };
        Assert.Equal([other], Validation.AddedProblems(before, [other]));
    }
}
