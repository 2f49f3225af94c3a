// The CLI side of the config-safety review: SDN running-configs kept, missing files and
// directories reported instead of read as an empty policy, empty commits asked for, ids unique
// across types after a mark change, no control characters, machine-readable check and commit,
// counts in words, no-change edits, malformed digests as usage errors.
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class ConfigSafetyCliTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    // ---- 1 ----------------------------------------------------------------------------------

    [Fact]
    public void Commit_into_a_proxmox_running_config_changes_only_its_microseg_key()
    {
        var sdn = Path.Combine(dir.Path, ".running-config");
        const string head = "{\"version\":8,\"zones\":{\"ids\":{\"z1\":{\"type\":\"evpn\"}}},\"microseg\":";
        const string tail = ",\"controllers\":{\"ids\":{}}}";
        File.WriteAllText(sdn, head + "{\"version\":2,\"ids\":{}}" + tail);
        dir.WithExample();
        var r = dir.Ok("commit", "--running-config", sdn);
        Assert.Contains("committed version 3", r.Out);
        var text = File.ReadAllText(sdn);
        Assert.StartsWith(head, text);
        Assert.EndsWith(tail, text);
        Assert.Contains("allow", dir.Ok("explain", "db", "web", "--running-config", sdn).Out);
    }

    [Fact]
    public void A_running_config_without_a_microseg_key_is_reported_naming_the_file()
    {
        var sdn = Path.Combine(dir.Path, ".running-config");
        File.WriteAllText(sdn, "{\"version\":8,\"zones\":{\"ids\":{}}}");
        var r = dir.Run("matrix", "--running-config", sdn);
        Assert.Equal(1, r.Exit);
        Assert.Contains(sdn, r.Err);
        Assert.Contains("'microseg'", r.Err);
        Assert.Equal("", r.Out);
    }

    // ---- 2 ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("config", "check")]
    [InlineData("group", "list")]
    [InlineData("matrix")]
    [InlineData("explain", "untagged", "web")]
    public void Reading_commands_say_that_the_pending_file_does_not_exist(params string[] args)
    {
        var r = dir.Run(args);
        Assert.Equal(1, r.Exit);
        Assert.Contains($"{dir.PendingPath} does not exist", r.Err);
        Assert.DoesNotContain("ok", r.Out);
    }

    [Fact]
    public void Commit_in_a_missing_directory_is_refused_and_creates_nothing()
    {
        var typo = Path.Combine(dir.Path, "typo");
        foreach (var args in new[] { new[] { "commit" }, ["commit", "--allow-empty"], ["group", "add", "web"] })
        {
            var r = Cli.Run([.. args, "--config-dir", typo]);
            Assert.Equal(1, r.Exit);
            Assert.Contains(typo, r.Err);
            Assert.Contains("does not exist", r.Err);
        }
        Assert.False(Directory.Exists(typo));
    }

    [Fact]
    public void Commit_of_an_empty_policy_needs_allow_empty()
    {
        var r = dir.Run("commit");
        Assert.Equal(1, r.Exit);
        Assert.Contains("--allow-empty", r.Err);
        Assert.False(File.Exists(dir.RunningPath));

        dir.WithPending("# nothing yet\n");
        Assert.Equal(1, dir.Run("commit").Exit);
        Assert.Contains("committed version 1", dir.Ok("commit", "--allow-empty").Out);
        var running = SnapshotFormat.Read(File.ReadAllBytes(dir.RunningPath), dir.RunningPath);
        Assert.Equal(0, running.Config.Count);
    }

    [Fact]
    public void An_edit_creates_the_file_in_an_existing_directory()
    {
        dir.Ok("group", "add", "web");
        Assert.True(dir.Config.Groups.ContainsKey("web"));
    }

    // ---- 4 ----------------------------------------------------------------------------------

    [Fact]
    public void Forwarders_take_nodes_listed_set_and_cleared()
    {
        Assert.Contains("nodes node1,node2", dir.Ok("forwarder", "add", "net0", "--router", "eth9", "--physical", "eth1", "--nodes", "node1,node2").Out);
        Assert.Contains("forwarder: net0\n\trouter eth9\n\tphysical eth1\n\tmode skb\n\tnodes node1,node2\n", dir.PendingText);
        var lines = dir.Ok("forwarder", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["net0", "eth9", "eth1", "skb", "node1,node2"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        dir.Ok("forwarder", "set", "net0", "--mode", "native");
        Assert.Equal(["node1", "node2"], dir.Config.Forwarders["net0"].Nodes);
        dir.Refused("forwarder", "set", "net0", "--nodes", "-bad");
        dir.Ok("forwarder", "set", "net0", "--nodes", "");
        Assert.Empty(dir.Config.Forwarders["net0"].Nodes);
    }

    // ---- 5 ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("group: p3-2\n\tmark 7\n", "group 'p3-2'")]
    [InlineData("bridge: p3-2\n", "bridge 'p3-2'")]
    public void A_mark_change_onto_another_type_s_id_is_refused_and_the_file_stays_readable(string squatter, string named)
    {
        dir.WithPending("group: a\n\tmark 1\n\ngroup: b\n\tmark 2\n\nrule: p1-2\n\tsrc a\n\tdst b\n\taction allow\n\n" + squatter);
        var r = dir.Refused("group", "set", "a", "--mark", "3");
        Assert.Contains("rule 'p1-2'", r.Err);
        Assert.Contains(named, r.Err);
        dir.Ok("config", "check");
    }

    // ---- 6 ----------------------------------------------------------------------------------

    private const string Evil = "x\n\ngroup: evil\n\tmark 9";

    [Theory]
    [InlineData("comment", "group", "add", "app", "--comment", Evil)]
    [InlineData("parent", "group", "add", "app", "--parent", Evil)]
    [InlineData("comment", "group", "set", "web", "--comment", Evil)]
    [InlineData("comment", "rule", "add", "--dst", "web", "--action", "allow", "--comment", Evil)]
    [InlineData("group", "assignment", "add", "--vmid", "100", "--iface", "0", "--group", Evil)]
    [InlineData("nodes", "bridge", "add", "eth1", "--nodes", "n1," + Evil)]
    [InlineData("router", "forwarder", "add", "net0", "--router", Evil, "--physical", "eth1")]
    [InlineData("nodes", "forwarder", "add", "net0", "--router", "eth9", "--physical", "eth1", "--nodes", Evil)]
    public void A_value_with_a_newline_never_lands_as_a_section(string field, params string[] args)
    {
        dir.WithPending("group: web\n\tmark 10\n");
        var r = dir.Refused(args);
        Assert.Contains(field, r.Err);
        Assert.Contains("control character", r.Err);
        Assert.DoesNotContain("evil", dir.PendingText);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }

    // ---- 7 ----------------------------------------------------------------------------------

    [Fact]
    public void A_comment_over_4096_bytes_is_refused()
    {
        dir.WithPending("group: web\n\tmark 10\n");
        var r = dir.Refused("group", "set", "web", "--comment", new string('c', 5000));
        Assert.Contains("4096", r.Err);
        dir.Ok("group", "set", "web", "--comment", new string('c', 4096));
    }

    // ---- 10 ---------------------------------------------------------------------------------

    [Fact]
    public void Config_check_counts_in_words()
    {
        dir.WithPending("group: web\n\tmark 10\n\nassignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup web\n");
        Assert.Contains("ok: 1 group, 0 rules, 1 assignment, 0 bridges, 0 forwarders", dir.Ok("config", "check").Out);
    }

    [Fact]
    public void Config_check_json_says_valid_counts_and_marks_to_assign()
    {
        dir.WithPending("group: a\n\tmark 1\n\ngroup: b\n");
        var data = dir.Ok("config", "check", "--json").Json().GetProperty("data");
        Assert.True(data.GetProperty("valid").GetBoolean());
        Assert.True(data.GetProperty("exists").GetBoolean());
        Assert.Equal(dir.PendingPath, data.GetProperty("file").GetString());
        Assert.Equal(dir.PendingDigest, data.GetProperty("digest").GetString());
        Assert.Equal(2, data.GetProperty("counts").GetProperty("group").GetInt32());
        var mark = Assert.Single(data.GetProperty("marks_to_assign").EnumerateArray());
        Assert.Equal("b", mark.GetProperty("group").GetString());
        Assert.Equal(2, mark.GetProperty("mark").GetInt32());
        Assert.Empty(data.GetProperty("problems").EnumerateArray());
    }

    [Fact]
    public void Config_check_json_of_an_invalid_file_lists_each_problem_and_exits_1()
    {
        dir.WithPending("group: a\n\tmark 1\n\tcolour red\n");
        var r = dir.Run("config", "check", "--json");
        Assert.Equal(1, r.Exit);
        var data = r.Json().GetProperty("data");
        Assert.False(data.GetProperty("valid").GetBoolean());
        var problem = Assert.Single(data.GetProperty("problems").EnumerateArray());
        Assert.Equal($"{dir.PendingPath}:3", problem.GetProperty("where").GetString());
        Assert.Equal("group 'a'", problem.GetProperty("object").GetString());
        Assert.Equal("colour", problem.GetProperty("field").GetString());

        var missing = new ConfigDir();
        var m = missing.Run("config", "check", "--json");
        Assert.Equal(1, m.Exit);
        Assert.False(m.Json().GetProperty("data").GetProperty("exists").GetBoolean());
        missing.Dispose();
    }

    [Fact]
    public void Commit_json_has_the_api_s_shape()
    {
        dir.WithPending("group: a\n\tmark 1\n\ngroup: b\n");
        var data = dir.Ok("commit", "--json").Json().GetProperty("data");
        Assert.Equal(1, data.GetProperty("version").GetInt64());
        Assert.True(data.GetProperty("changed").GetBoolean());
        Assert.Equal(dir.PendingDigest, data.GetProperty("digest").GetString());
        Assert.Equal(dir.RunningPath, data.GetProperty("running_config").GetString());
        Assert.Equal("b", Assert.Single(data.GetProperty("marks_assigned").EnumerateArray()).GetProperty("group").GetString());

        var again = dir.Ok("commit", "--json").Json().GetProperty("data");
        Assert.False(again.GetProperty("changed").GetBoolean());

        dir.WithPending("group: a\n\tparent ghost\n");
        var failed = dir.Run("commit", "--json");
        Assert.Equal(1, failed.Exit);
        var body = failed.Json();
        Assert.Equal(JsonValueKind.Null, body.GetProperty("data").ValueKind);
        Assert.Contains("ghost", body.GetProperty("message").GetString());
        Assert.Equal("parent", Assert.Single(body.GetProperty("problems").EnumerateArray()).GetProperty("field").GetString());
    }

    [Fact]
    public void A_set_that_changes_nothing_says_so_and_writes_nothing()
    {
        dir.WithPending("group: web\n\tmark 10\n\tcomment tier\n");
        var before = File.GetLastWriteTimeUtc(dir.PendingPath);
        var bytes = dir.Pending;
        Thread.Sleep(20);
        var r = dir.Ok("group", "set", "web", "--mark", "10", "--comment", "tier");
        Assert.StartsWith("no change: ", r.Out);
        Assert.Equal(bytes, dir.Pending);
        Assert.Equal(before, File.GetLastWriteTimeUtc(dir.PendingPath));
    }

    [Theory]
    [InlineData("group", "add", "web", "--digest", "abc")]
    [InlineData("group", "del", "web", "--digest", "not-a-digest")]
    [InlineData("commit", "--digest", "abc")]
    public void A_malformed_digest_is_a_usage_error(params string[] args)
    {
        dir.WithPending("group: web\n\tmark 10\n");
        var before = dir.Pending;
        var r = dir.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.Contains("64 hex digits", r.Err);
        Assert.DoesNotContain("changed since", r.Err);
        Assert.Equal(before, dir.Pending);
    }

    [Fact]
    public void A_refusal_has_the_api_s_wording()
    {
        dir.WithPending("group: web\n\tmark 1\n\ngroup: wiki\n\tmark 2\n\tparent web\n");
        var r = dir.Refused("group", "set", "web", "--parent", "wiki");
        // The same text the API answers for PUT group/web {"parent": "wiki"} (README).
        Assert.Equal("microseg: refused: updating group 'web' would leave the config invalid: group 'web': parent cycle: web -> wiki -> web", r.Err.Trim());
    }
}
