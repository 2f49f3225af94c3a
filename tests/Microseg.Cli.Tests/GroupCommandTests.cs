// `microseg group add|set|del|list`: marks chosen and stored, rule ids re-derived after a mark
// change, referenced groups kept, invalid edits refused with the file untouched.
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class GroupCommandTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    private static Dictionary<string, JsonElement> ById(CliResult list) =>
        list.Json().GetProperty("data").EnumerateArray().ToDictionary(o => o.GetProperty("id").GetString()!);

    [Fact]
    public void Add_without_mark_stores_the_lowest_free_mark_in_the_file()
    {
        dir.Ok("group", "add", "web");
        dir.Ok("group", "add", "db", "--mark", "3");
        dir.Ok("group", "add", "app");
        dir.Ok("group", "add", "ops");
        Assert.Equal("group: app\n\tmark 2\n\ngroup: db\n\tmark 3\n\ngroup: ops\n\tmark 4\n\ngroup: web\n\tmark 1\n", dir.PendingText);
    }

    [Fact]
    public void Add_prints_the_mark_and_the_new_digest()
    {
        var r = dir.Ok("group", "add", "web", "--comment", "web tier");
        Assert.Contains("mark 1", r.Out);
        Assert.Contains(dir.PendingDigest, r.Out);
    }

    [Fact]
    public void List_json_has_every_field_and_the_file_digest()
    {
        dir.Ok("group", "add", "app", "--mark", "10", "--comment", "application tier");
        dir.Ok("group", "add", "web", "--mark", "11", "--parent", "app");
        var list = dir.Ok("group", "list", "--json");
        Assert.Equal(dir.PendingDigest, list.Json().GetProperty("digest").GetString());
        var groups = ById(list);
        Assert.Equal(["app", "web"], groups.Keys);
        Assert.Equal("group", groups["app"].GetProperty("type").GetString());
        Assert.Equal(10, groups["app"].GetProperty("mark").GetInt32());
        Assert.Equal("application tier", groups["app"].GetProperty("comment").GetString());
        Assert.Equal(11, groups["web"].GetProperty("mark").GetInt32());
        Assert.Equal("app", groups["web"].GetProperty("parent").GetString());
    }

    [Fact]
    public void List_table_has_a_row_per_group()
    {
        dir.Ok("group", "add", "app", "--mark", "10");
        dir.Ok("group", "add", "web", "--mark", "11", "--parent", "app");
        var lines = dir.Ok("group", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "MARK", "PARENT", "STATEFUL", "INFRA", "AUDIT", "COMMENT"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["app", "10", "-", "-", "-", "-", "-"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["web", "11", "app", "-", "-", "-", "-"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(3, lines.Length);
    }

    [Fact]
    public void Empty_list_json_is_an_empty_array()
    {
        dir.WithPending(""); // a missing file is an error now (ConfigSafetyCliTests), an empty one lists nothing
        var json = dir.Ok("group", "list", "--json").Json();
        Assert.Equal(0, json.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public void Set_changes_parent_and_comment_and_delete_removes_them()
    {
        dir.Ok("group", "add", "app", "--mark", "10");
        dir.Ok("group", "add", "web", "--mark", "11");
        dir.Ok("group", "set", "web", "--parent", "app", "--comment", "front");
        Assert.Equal(new Group("web", 11, "app", "front"), dir.Config.Groups["web"]);
        dir.Ok("group", "set", "web", "--delete", "parent", "comment");
        Assert.Equal(new Group("web", 11), dir.Config.Groups["web"]);
    }

    [Fact]
    public void Set_mark_re_derives_the_ids_of_the_rules_that_use_the_group()
    {
        dir.Ok("group", "add", "web", "--mark", "10");
        dir.Ok("group", "add", "db", "--mark", "20");
        dir.Ok("group", "add", "ops", "--mark", "30");
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--action", "allow");
        dir.Ok("rule", "add", "--dst", "web", "--action", "deny");
        dir.Ok("rule", "add", "--src", "ops", "--dst", "db", "--action", "allow");
        Assert.Equal(["p0-10", "p10-20", "p20-10", "p30-20"], dir.Config.Rules.Keys);

        dir.Ok("group", "set", "web", "--mark", "15");

        var rules = dir.Config.Rules;
        Assert.Equal(["p0-15", "p15-20", "p20-15", "p30-20"], rules.Keys);
        Assert.Equal(new Rule("p20-15", "db", "web", RuleAction.Allow), rules["p20-15"]);
        Assert.Equal(new Rule("p15-20", "web", "db", RuleAction.Allow), rules["p15-20"]);
        Assert.Equal(new Rule("p0-15", null, "web", RuleAction.Deny), rules["p0-15"]);
        dir.Ok("config", "check");
        Assert.Equal("allow", dir.Ok("explain", "db", "web", "--json").Json().GetProperty("verdict").GetString());
        Assert.Equal("p20-15", dir.Ok("explain", "db", "web", "--json").Json().GetProperty("rule").GetString());
    }

    [Fact]
    public void Set_mark_keeps_the_comment_lines_written_above_a_re_derived_rule()
    {
        dir.WithPending("group: db\n\tmark 20\n\ngroup: web\n\tmark 10\n\n# ticket 42: db pushes to web\nrule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n");
        dir.Ok("group", "set", "web", "--mark", "15");
        Assert.Contains("# ticket 42: db pushes to web\nrule: p20-15\n", dir.PendingText);
    }

    [Fact]
    public void Set_mark_to_a_mark_in_use_is_refused()
    {
        dir.Ok("group", "add", "web", "--mark", "10");
        dir.Ok("group", "add", "db", "--mark", "20");
        dir.Ok("rule", "add", "--src", "db", "--dst", "web", "--action", "allow");
        var r = dir.Refused("group", "set", "web", "--mark", "20");
        Assert.Contains("mark 20", r.Err);
    }

    [Fact]
    public void Delete_an_unreferenced_group()
    {
        dir.Ok("group", "add", "web");
        dir.Ok("group", "add", "db");
        dir.Ok("group", "del", "web");
        Assert.Equal(["db"], dir.Config.Groups.Keys);
    }

    [Fact]
    public void Delete_a_group_a_rule_uses_is_refused()
    {
        dir.WithExample();
        var r = dir.Refused("group", "del", "db");
        Assert.Contains("db", r.Err);
    }

    [Fact]
    public void Delete_a_group_that_is_a_parent_is_refused()
    {
        dir.Ok("group", "add", "app");
        dir.Ok("group", "add", "web", "--parent", "app");
        dir.Refused("group", "del", "app");
    }

    [Fact]
    public void Delete_a_group_a_nic_is_assigned_to_is_refused()
    {
        dir.Ok("group", "add", "web");
        dir.Ok("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "web");
        dir.Refused("group", "del", "web");
    }

    [Fact]
    public void Delete_of_a_missing_group_is_exit_1()
    {
        dir.Ok("group", "add", "web");
        var r = dir.Refused("group", "del", "nosuch");
        Assert.Contains("nosuch", r.Err);
    }

    [Theory]
    [InlineData("untagged")]
    [InlineData("1web")]
    [InlineData("web.tier")]
    public void Add_with_an_invalid_name_is_refused(string name)
    {
        dir.Ok("group", "add", "ok");
        dir.Refused("group", "add", name);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("7")]       // taken by 'ok'
    public void Add_with_an_invalid_mark_is_refused(string mark)
    {
        dir.Ok("group", "add", "ok", "--mark", "7");
        var r = dir.Refused("group", "add", "web", "--mark", mark);
        Assert.Contains($"mark {mark}", r.Err);
    }

    [Fact]
    public void Add_with_an_unknown_parent_is_refused()
    {
        dir.Ok("group", "add", "ok");
        var r = dir.Refused("group", "add", "web", "--parent", "ghost");
        Assert.Contains("ghost", r.Err);
    }

    [Fact]
    public void Set_making_a_parent_cycle_is_refused()
    {
        dir.Ok("group", "add", "a");
        dir.Ok("group", "add", "b", "--parent", "a");
        var r = dir.Refused("group", "set", "a", "--parent", "b");
        Assert.Contains("cycle", r.Err);
    }

    [Fact]
    public void Add_of_an_existing_id_of_any_type_is_refused()
    {
        dir.Ok("group", "add", "web");
        dir.Ok("bridge", "add", "eth1");
        dir.Refused("group", "add", "web");
        var r = dir.Refused("group", "add", "eth1");
        Assert.Contains("bridge", r.Err);
    }

    [Fact]
    public void Set_of_a_missing_group_is_exit_1()
    {
        dir.Ok("group", "add", "web");
        dir.Refused("group", "set", "nosuch", "--mark", "5");
    }

    [Fact]
    public void Comment_with_a_line_break_is_refused()
    {
        dir.Ok("group", "add", "web");
        dir.Refused("group", "add", "db", "--comment", "two\nlines");
        dir.Refused("group", "set", "web", "--comment", "two\rlines");
    }

    [Fact]
    public void An_empty_comment_leaves_a_file_that_still_reads()
    {
        dir.Ok("group", "add", "web");
        var add = dir.Run("group", "add", "db", "--comment", "");
        Assert.True(add.Exit is 0 or 1, add.ToString());
        dir.Ok("config", "check");
        dir.Ok("group", "list");
        var set = dir.Run("group", "set", "web", "--comment", "");
        Assert.True(set.Exit is 0 or 1, set.ToString());
        dir.Ok("config", "check");
    }

    [Fact]
    public void Edits_keep_the_comments_of_a_hand_written_file()
    {
        dir.WithExample();
        dir.Ok("group", "add", "ops");
        Assert.StartsWith("# The worked example of SPEC §4", dir.PendingText);
    }

    [Fact]
    public void Edit_with_the_current_digest_succeeds_and_with_a_stale_one_is_refused()
    {
        dir.WithExample();
        var digest = dir.Ok("group", "list", "--json").Json().GetProperty("digest").GetString()!;
        Assert.Equal(dir.PendingDigest, digest);
        dir.Ok("group", "add", "x", "--digest", digest);
        var r = dir.Refused("group", "add", "y", "--digest", digest);
        Assert.Contains("changed", r.Err);
        Assert.DoesNotContain("y", dir.Config.Groups.Keys);
        Assert.Contains("x", dir.Config.Groups.Keys);
    }

    [Fact]
    public void Stale_digest_is_refused_by_every_editing_command()
    {
        dir.WithExample();
        var stale = dir.PendingDigest;
        dir.Ok("group", "add", "x");
        dir.Refused("group", "set", "x", "--comment", "c", "--digest", stale);
        dir.Refused("group", "del", "x", "--digest", stale);
        dir.Refused("rule", "add", "--src", "x", "--dst", "db", "--action", "allow", "--digest", stale);
        dir.Refused("rule", "set", "p20-12", "--action", "allow", "--digest", stale);
        dir.Refused("rule", "del", "p20-12", "--digest", stale);
        dir.Refused("assignment", "add", "--vmid", "300", "--iface", "0", "--group", "x", "--digest", stale);
        dir.Refused("assignment", "set", "vm100i0", "--group", "x", "--digest", stale);
        dir.Refused("assignment", "del", "vm100i0", "--digest", stale);
        dir.Refused("bridge", "add", "eth1", "--digest", stale);
    }

    [Fact]
    public void A_mark_in_use_is_refused_naming_the_group_that_has_it_as_the_api_does()
    {
        dir.Ok("group", "add", "web", "--mark", "5");
        var pending = dir.Pending;
        // "app" sorts before "web": a check of the whole config would blame web instead.
        var add = dir.Refused("group", "add", "app", "--mark", "5");
        Assert.Contains("mark 5 is already used by group 'web'", add.Err);
        Assert.Equal(pending, dir.Pending);

        dir.Ok("group", "add", "db", "--mark", "6");
        pending = dir.Pending;
        var set = dir.Refused("group", "set", "db", "--mark", "5");
        Assert.Contains("mark 5 is already used by group 'web'", set.Err);
        Assert.Equal(pending, dir.Pending);
    }
}
