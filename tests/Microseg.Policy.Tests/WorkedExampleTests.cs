// SPEC §4's worked example, resolved by the engine: the verdicts the spec promises, the
// deciding rule, the candidates and their distances, and the compiled verdict entries.
using Microseg.Policy;

namespace Microseg.Policy.Tests;

public sealed class WorkedExampleTests
{
    // examples/microseg.cfg: web 10 (children wiki 11, wol 12), db 20.
    // NICs: CT100 net0 in wiki, CT101 net0 in wol, CT200 net1 in db.
    private readonly PolicyEngine engine;

    public WorkedExampleTests()
    {
        var config = Examples.WorkedExample;
        Assert.Empty(Validation.Check(config));
        engine = new PolicyEngine(config);
    }

    private static (string Rule, int Dst, int Src)[] Candidates(Explanation e) =>
        [.. e.Candidates.Select(c => (c.Rule.Id, c.DstDistance, c.SrcDistance))];

    [Fact]
    public void Example_file_has_the_marks_and_nics_the_spec_describes()
    {
        var config = Examples.WorkedExample;
        Assert.Equal(10, config.Groups["web"].Mark);
        Assert.Equal(11, config.Groups["wiki"].Mark);
        Assert.Equal(12, config.Groups["wol"].Mark);
        Assert.Equal(20, config.Groups["db"].Mark);
        Assert.Equal("web", config.Groups["wiki"].Parent);
        Assert.Equal("web", config.Groups["wol"].Parent);
        Assert.Equal("wiki", config.Assignments["vm100i0"].Group);
        Assert.Equal("wol", config.Assignments["vm101i0"].Group);
        Assert.Equal("db", config.Assignments["vm200i1"].Group);
    }

    [Fact]
    public void Db_to_CT100_in_wiki_is_allowed_by_the_inherited_rule_at_dst_distance_1()
    {
        var e = engine.Explain("db", "wiki");
        Assert.Equal(RuleAction.Allow, e.Verdict);
        Assert.Equal("p20-10", e.Rule?.Id);
        Assert.Equal([("p20-10", 1, 0)], Candidates(e));
    }

    [Fact]
    public void Db_to_CT101_in_wol_is_denied_because_dst_distance_0_beats_1()
    {
        var e = engine.Explain("db", "wol");
        Assert.Equal(RuleAction.Deny, e.Verdict);
        Assert.Equal("p20-12", e.Rule?.Id);
        Assert.Equal([("p20-12", 0, 0), ("p20-10", 1, 0)], Candidates(e));
    }

    [Fact]
    public void Web_to_CT200_in_db_is_allowed()
    {
        var e = engine.Explain("web", "db");
        Assert.Equal(RuleAction.Allow, e.Verdict);
        Assert.Equal("p10-20", e.Rule?.Id);
        Assert.Equal([("p10-20", 0, 0)], Candidates(e));
    }

    [Theory]
    [InlineData("wiki")]
    [InlineData("wol")]
    public void Children_of_web_to_CT200_are_allowed_at_src_distance_1(string child)
    {
        var e = engine.Explain(child, "db");
        Assert.Equal(RuleAction.Allow, e.Verdict);
        Assert.Equal("p10-20", e.Rule?.Id);
        Assert.Equal([("p10-20", 0, 1)], Candidates(e));
    }

    [Theory]
    [InlineData("web")]
    [InlineData("wiki")]
    [InlineData("wol")]
    [InlineData("db")]
    public void Untagged_to_any_group_is_denied_with_no_rule_and_no_candidate(string dst)
    {
        var e = engine.Explain(null, dst);
        Assert.Equal(RuleAction.Deny, e.Verdict);
        Assert.Null(e.Rule);
        Assert.Empty(e.Candidates);
    }

    [Fact]
    public void Matrix_allows_exactly_the_five_pairs_the_rules_give()
    {
        var allowed = engine.Matrix().Where(e => e.Verdict == RuleAction.Allow)
            .Select(e => $"{e.Src ?? "untagged"}->{e.Dst}").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["db->web", "db->wiki", "web->db", "wiki->db", "wol->db"], allowed);
        // Every (source incl. untagged, destination) pair is in the matrix once.
        Assert.Equal(5 * 4, engine.Matrix().Count());
    }

    [Fact]
    public void Compiled_entries_for_the_nics_destinations_are_the_allowed_pairs_by_mark()
    {
        var entries = engine.Compile(["wiki", "wol", "db"]);
        Assert.Equal(
            [
                new VerdictEntry(20, 11, RuleAction.Allow),  // db -> wiki (CT100)
                new VerdictEntry(10, 20, RuleAction.Allow),  // web -> db (CT200)
                new VerdictEntry(11, 20, RuleAction.Allow),  // wiki -> db
                new VerdictEntry(12, 20, RuleAction.Allow),  // wol -> db
            ],
            entries);
    }
}
