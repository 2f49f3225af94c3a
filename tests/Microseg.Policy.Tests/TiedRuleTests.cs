// Ties (two rules for one (src, dst) pair, possible only in a damaged config): deny wins,
// in Explain and in Compile alike.
using Microseg.Policy;

namespace Microseg.Policy.Tests;

public sealed class TiedRuleTests
{
    private static PolicyConfig Tied(RuleAction first, RuleAction second, string? src = "a") => PolicyConfig.Create(
        [new Group("a", 1), new Group("b", 2)],
        [new Rule("x1", src, "b", first), new Rule("x2", src, "b", second)]);

    [Theory]
    [InlineData(RuleAction.Allow, RuleAction.Deny, "x2")]
    [InlineData(RuleAction.Deny, RuleAction.Allow, "x1")]
    public void Allow_and_deny_tied_is_deny_decided_by_the_deny_rule(RuleAction first, RuleAction second, string denier)
    {
        var engine = new PolicyEngine(Tied(first, second));
        var e = engine.Explain("a", "b");
        Assert.Equal(RuleAction.Deny, e.Verdict);
        Assert.Equal(denier, e.Rule?.Id);
        Assert.Equal(2, e.Candidates.Count);
        Assert.Contains("deny wins", e.Reason);
        Assert.Empty(engine.Compile(["b"]));
    }

    [Fact]
    public void Two_tied_allows_allow()
    {
        var engine = new PolicyEngine(Tied(RuleAction.Allow, RuleAction.Allow));
        Assert.Equal(RuleAction.Allow, engine.Explain("a", "b").Verdict);
        Assert.Equal([new VerdictEntry(1, 2, RuleAction.Allow)], engine.Compile(["b"]));
    }

    [Fact]
    public void Tied_untagged_rules_deny_untagged_traffic()
    {
        var engine = new PolicyEngine(Tied(RuleAction.Allow, RuleAction.Deny, src: null));
        Assert.Equal(RuleAction.Deny, engine.Explain(null, "b").Verdict);
        Assert.Empty(engine.Compile(["b"]));
    }

    [Fact]
    public void A_closer_rule_still_beats_a_farther_tie()
    {
        // child's own rule (dst_dist 0) beats the tied pair on the parent (dst_dist 1).
        var config = PolicyConfig.Create(
            [new Group("a", 1), new Group("b", 2), new Group("c", 3, Parent: "b")],
            [new Rule("x1", "a", "b", RuleAction.Allow), new Rule("x2", "a", "b", RuleAction.Deny), new Rule("p1-3", "a", "c", RuleAction.Allow)]);
        var engine = new PolicyEngine(config);
        Assert.Equal(RuleAction.Allow, engine.Explain("a", "c").Verdict);
        Assert.Equal("p1-3", engine.Explain("a", "c").Rule?.Id);
        Assert.Equal([new VerdictEntry(1, 3, RuleAction.Allow)], engine.Compile(["b", "c"]));
    }
}
