// Commit writes the snapshot and reports the local apply; explain and matrix answer exactly
// what the CLI answers for the same config.
using System.Net;
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Api.Tests;

public sealed class CommitAndPolicyTests
{
    private static string Example => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", "microseg.cfg"));

    [Fact]
    public async Task Commit_writes_the_snapshot_and_reports_the_failed_apply()
    {
        // A hand-written group without a mark: commit assigns one and writes it back.
        await using var api = await ApiHost.StartAsync(Example + "\ngroup: ops\n\tcomment no mark yet\n");
        var commit = await api.Ok(HttpMethod.Post, "commit");

        Assert.Equal(1, commit.Int("version"));
        Assert.True(commit.GetProperty("changed").GetBoolean());
        Assert.Equal(api.RunningPath, commit.Str("running_config"));
        var marks = commit.GetProperty("marks_assigned").EnumerateArray().Single();
        Assert.Equal(("ops", 1), (marks.Str("group"), (int)marks.Int("mark")));
        Assert.Equal(api.PendingDigest, commit.Str("digest"));

        var snapshot = SnapshotFormat.Read(File.ReadAllBytes(api.RunningPath), api.RunningPath);
        Assert.Equal(1, snapshot.Version);
        var pending = api.Store.ReadPending().Config;
        Assert.Equal(pending.Objects, snapshot.Config.Objects);
        Assert.Equal(1, pending.Groups["ops"].Mark);

        // The agent's bpffs root lies beneath a regular file: apply fails, the commit stands.
        var apply = commit.GetProperty("apply");
        Assert.False(apply.GetProperty("ok").GetBoolean());
        Assert.Equal(1, apply.Int("version"));
        Assert.Equal("testnode", apply.Str("node"));
        Assert.StartsWith("apply on testnode: ", apply.Str("error"));

        var status = await api.Ok(HttpMethod.Get, "status");
        Assert.Equal(1, status.GetProperty("running").Int("version"));
        Assert.Equal(0, status.GetProperty("pending").Int("changes"));
        Assert.Equal(apply.Str("error"), status.GetProperty("last_apply").Str("error"));

        // Committing the same config again: no new version, the apply runs again.
        var again = await api.Ok(HttpMethod.Post, "commit", new { digest = api.PendingDigest });
        Assert.Equal(1, again.Int("version"));
        Assert.False(again.GetProperty("changed").GetBoolean());
    }

    [Fact]
    public async Task An_empty_policy_is_committed_only_when_asked_for_by_allow_empty()
    {
        await using var api = await ApiHost.StartAsync("# nothing yet\n");
        var refused = await api.Post("commit");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Contains("allow-empty", refused.Body.Str("message"));
        Assert.False(File.Exists(api.RunningPath));

        var bad = await api.Post("commit", new { allow_empty = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status); // unknown parameter: the name is allow-empty

        var commit = await api.Ok(HttpMethod.Post, "commit", new Dictionary<string, object> { ["allow-empty"] = "yes" });
        Assert.Equal(1, commit.Int("version"));
        var snapshot = SnapshotFormat.Read(File.ReadAllBytes(api.RunningPath), api.RunningPath);
        Assert.Empty(snapshot.Config.Objects);
    }

    [Fact]
    public async Task An_invalid_pending_config_is_not_committed()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n\nrule: p10-10\n\tsrc web\n\tdst web\n\taction allow\n\nassignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup nope\n");
        var r = await api.Post("commit");
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains("unknown group 'nope'", r.Body.Str("message"));
        Assert.Contains("unknown group 'nope'", r.Error("group"));
        Assert.False(File.Exists(api.RunningPath));
    }

    [Fact]
    public async Task Explain_and_matrix_agree_with_the_cli()
    {
        await using var api = await ApiHost.StartAsync(Example);
        var groups = api.Store.ReadPending().Config.Groups.Keys.ToList();

        foreach (var src in groups.Prepend(Names.Untagged))
        {
            foreach (var dst in groups)
            {
                var http = await api.Ok(HttpMethod.Get, $"explain?src={src}&dst={dst}");
                var cli = Cli(api, "explain", src, dst, "--json");
                Assert.Equal(Json.Canonical(cli), Json.Canonical(http));
            }
        }
        var matrix = await api.Ok(HttpMethod.Get, "matrix");
        Assert.Equal(Json.Canonical(Cli(api, "matrix", "--json")), Json.Canonical(matrix));

        // The worked example of SPEC §4, as the API says it.
        Assert.Equal(("allow", "p20-10"), await Verdict(api, "db", "wiki"));
        Assert.Equal(("deny", "p20-12"), await Verdict(api, "db", "wol"));
        Assert.Equal(("allow", "p10-20"), await Verdict(api, "wiki", "db"));
        Assert.Equal(("deny", null), await Verdict(api, "untagged", "web"));

        // running=1 resolves the committed snapshot (the CLI's --running).
        Assert.Equal(HttpStatusCode.NotFound, (await api.Get("matrix?running=1")).Status);
        await api.Ok(HttpMethod.Post, "commit");
        await api.Ok(HttpMethod.Put, "rule/p20-12", new { action = "allow" });
        Assert.Equal(("allow", "p20-12"), await Verdict(api, "db", "wol"));
        var running = await api.Ok(HttpMethod.Get, "explain?src=db&dst=wol&running=1");
        Assert.Equal(Json.Canonical(Cli(api, "explain", "db", "wol", "--running", "--json")), Json.Canonical(running));
        Assert.Equal("deny", running.Str("verdict"));
    }

    private static async Task<(string?, string?)> Verdict(ApiHost api, string src, string dst)
    {
        var e = await api.Ok(HttpMethod.Get, $"explain?src={src}&dst={dst}");
        return (e.Str("verdict"), e.Str("rule"));
    }

    private static JsonElement Cli(ApiHost api, params string[] args)
    {
        var (exit, stdout, stderr) = MicrosegCli.Run(api.ConfigDir, args);
        Assert.True(exit == 0, $"microseg {string.Join(' ', args)}: exit {exit}: {stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
