// `microseg rule add|set|del|list`: ids derived as p{src_mark}-{dst_mark} (0 = untagged).
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class RuleCommandTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public RuleCommandTests()
    {
        dir.Ok("group", "add", "web", "--mark", "10");
        dir.Ok("group", "add", "db", "--mark", "20");
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Add_derives_the_id_from_the_marks()
    {
        var r = dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow", "--comment", "db pushes");
        Assert.Contains("p20-10", r.Out);
        Assert.Equal(new Rule("p20-10", "db", "web", RuleAction.Allow, "db pushes"), dir.Config.Rules["p20-10"]);
        Assert.EndsWith("rule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n\tcomment db pushes\n", dir.PendingText);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Untagged_rule_has_src_mark_0(bool saySrcUntagged)
    {
        string[] src = saySrcUntagged ? ["--src", "untagged"] : [];
        dir.Ok(["rule", "add", .. src, "--dst", "db", "--action", "allow"]);
        Assert.Equal(new Rule("p0-20", null, "db", RuleAction.Allow), Assert.Single(dir.Config.Rules.Values));
        Assert.Equal("allow", dir.Ok("explain", "untagged", "db", "--json").Json().GetProperty("verdict").GetString());
    }

    [Fact]
    public void Add_for_groups_without_marks_assigns_and_stores_the_marks()
    {
        dir.WithPending("group: a\n\ngroup: b\n\tmark 1\n\ngroup: c\n");
        dir.Ok("rule", "add", "--src", "a", "--dst", "c", "--action", "deny");
        var config = dir.Config;
        Assert.Equal(2, config.Groups["a"].Mark);
        Assert.Equal(3, config.Groups["c"].Mark);
        Assert.Equal(["p2-3"], config.Rules.Keys);
    }

    [Fact]
    public void Second_rule_for_the_same_pair_is_refused()
    {
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        var r = dir.Refused("rule", "add", "--src", "db", "--dst", "web", "--action", "deny");
        Assert.Contains("p20-10", r.Err);
    }

    [Theory]
    [InlineData("--src", "ghost", "--dst", "web")]
    [InlineData("--src", "db", "--dst", "ghost")]
    public void Rule_with_an_unknown_group_is_refused(params string[] args)
    {
        var r = dir.Refused(["rule", "add", .. args, "--action", "allow"]);
        Assert.Contains("ghost", r.Err);
    }

    [Fact]
    public void Set_changes_action_and_comment_and_delete_removes_the_comment()
    {
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        dir.Ok("rule", "set", "p20-10", "--action", "deny", "--comment", "closed");
        Assert.Equal(new Rule("p20-10", "db", "web", RuleAction.Deny, "closed"), dir.Config.Rules["p20-10"]);
        dir.Ok("rule", "set", "p20-10", "--delete", "comment");
        Assert.Equal(new Rule("p20-10", "db", "web", RuleAction.Deny), dir.Config.Rules["p20-10"]);
        Assert.Equal("deny", dir.Ok("explain", "db", "web", "--json").Json().GetProperty("verdict").GetString());
    }

    [Fact]
    public void Set_and_del_of_a_missing_rule_are_exit_1()
    {
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        dir.Refused("rule", "set", "p1-1", "--action", "deny");
        dir.Refused("rule", "del", "p1-1");
    }

    [Fact]
    public void Del_removes_the_rule()
    {
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--action", "allow");
        dir.Ok("rule", "del", "p20-10");
        Assert.Equal(["p10-20"], dir.Config.Rules.Keys);
    }

    [Fact]
    public void List_json_and_table()
    {
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        dir.Ok("rule", "add", "--dst", "web", "--action", "deny", "--comment", "no outsiders");
        var json = dir.Ok("rule", "list", "--json").Json();
        var rules = json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["p0-10", "p20-10"], rules.Select(r => r.GetProperty("id").GetString()));
        Assert.False(rules[0].TryGetProperty("src", out _));
        Assert.Equal("web", rules[0].GetProperty("dst").GetString());
        Assert.Equal("deny", rules[0].GetProperty("action").GetString());
        Assert.Equal("no outsiders", rules[0].GetProperty("comment").GetString());
        Assert.Equal("db", rules[1].GetProperty("src").GetString());
        Assert.Equal("allow", rules[1].GetProperty("action").GetString());
        Assert.Equal(dir.PendingDigest, json.GetProperty("digest").GetString());

        var lines = dir.Ok("rule", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["ID", "SRC", "DST", "SERVICE", "ACTION", "COMMENT"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["p0-10", "untagged", "web", "any", "deny", "no", "outsiders"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["p20-10", "db", "web", "any", "allow", "-"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("permit")]
    [InlineData("ALLOW")]
    public void Action_other_than_allow_or_deny_is_a_usage_error(string action)
    {
        var before = dir.Pending;
        var r = dir.Run("rule", "add", "--src", "db", "--dst", "web", "--action", action);
        Assert.Equal(2, r.Exit);
        Assert.Equal(before, dir.Pending);
    }

    [Fact]
    public void Add_without_action_is_a_usage_error()
    {
        Assert.Equal(2, dir.Run("rule", "add", "--src", "db", "--dst", "web").Exit);
    }

    [Fact]
    public void An_empty_comment_leaves_a_file_that_still_reads()
    {
        var add = dir.Run("rule", "add", "--src", "db", "--dst", "web", "--action", "allow", "--comment", "");
        Assert.True(add.Exit is 0 or 1, add.ToString());
        dir.Ok("config", "check");
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--action", "allow");
        var set = dir.Run("rule", "set", "p10-20", "--comment", "");
        Assert.True(set.Exit is 0 or 1, set.ToString());
        dir.Ok("config", "check");
    }

    [Fact]
    public void Rule_list_json_reads_as_a_snapshot_object_list()
    {
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        var data = dir.Ok("rule", "list", "--json").Json().GetProperty("data");
        Assert.Equal(JsonValueKind.Array, data.ValueKind);
        Assert.Equal("rule", data[0].GetProperty("type").GetString());
    }
}
