// The edits the CLI and the API share: checks of the arguments (all at once, each under its
// property), ids derived from a rule's key, marks chosen and kept unique, rule ids that follow a
// mark change, and the object in the way named when there is one.
namespace Microseg.Policy.Tests;

public sealed class ConfigEditsTests
{
    private static readonly PolicyConfig Two = PolicyConfig.Create([new Group("web", 10), new Group("db", 20)]);

    [Fact]
    public void Argument_problems_are_reported_together_each_under_its_property()
    {
        var e = Assert.Throws<ConfigEditException>(() => ConfigEdits.AddGroup(Two, "1bad", 0, null, null));
        Assert.Equal([null, "mark"], e.Problems.Select(p => p.Field));
        Assert.Contains("invalid group name", e.Message);
        Assert.Contains("mark 0 is reserved", e.Message);
    }

    [Fact]
    public void A_new_group_gets_the_lowest_free_mark_and_a_taken_one_is_refused()
    {
        var (config, group) = ConfigEdits.AddGroup(Two, "app", null, null, "tier");
        Assert.Equal(1, group.Mark);
        Assert.Equal(group, config.Groups["app"]);
        var e = Assert.Throws<ConfigEditException>(() => ConfigEdits.AddGroup(Two, "app", 20, null, null));
        Assert.Equal("mark", Assert.Single(e.Problems).Field);
        Assert.Equal("mark 20 is already used by group 'db'", e.Message);
        Assert.Throws<ConfigEditException>(() => ConfigEdits.UpdateGroup(Two, "web", 20, null, null, new HashSet<string>()));
        Assert.Throws<MissingObjectException>(() => ConfigEdits.UpdateGroup(Two, "nope", 5, null, null, new HashSet<string>()));
    }

    [Fact]
    public void A_rule_takes_the_id_of_its_key_once_and_follows_a_mark_change()
    {
        var key = new RuleKey("db", "web");
        var (config, rule) = ConfigEdits.AddRule(Two, key, RuleAction.Allow, null);
        Assert.Equal("p20-10", rule.Id);
        Assert.Equal(key, rule.Key);
        Assert.Equal("db -> web", key.ToString());

        var e = Assert.Throws<ConfigEditException>(() => ConfigEdits.AddRule(config, new RuleKey("db", "web"), RuleAction.Deny, null));
        Assert.Same(rule, e.Existing);
        Assert.Equal("rule 'p20-10' already covers db -> web", e.Message);
        Assert.Equal("dst", Assert.Single(e.Problems).Field);

        var unknown = Assert.Throws<ConfigEditException>(() => ConfigEdits.AddRule(config, new RuleKey("x", "y"), RuleAction.Deny, null));
        Assert.Equal(["src", "dst"], unknown.Problems.Select(p => p.Field));

        (config, _) = ConfigEdits.UpdateGroup(config, "db", 21, null, null, new HashSet<string>());
        Assert.Equal(["p21-10"], config.Rules.Keys);
        Assert.Equal("p0-10", ConfigEdits.AddRule(config, new RuleKey(null, "web"), RuleAction.Deny, null).Rule.Id);
    }

    [Fact]
    public void Deletes_remove_properties_and_null_arguments_keep_them()
    {
        var config = PolicyConfig.Create([new Group("web", 10, "app", "tier"), new Group("app", 1)]);
        var (_, kept) = ConfigEdits.UpdateGroup(config, "web", null, null, null, new HashSet<string>());
        Assert.Equal(new Group("web", 10, "app", "tier"), kept);
        var (_, cleared) = ConfigEdits.UpdateGroup(config, "web", null, null, null, new HashSet<string> { "parent", "comment" });
        Assert.Equal(new Group("web", 10), cleared);
    }
}
