// SPEC §4's worked example through the CLI: `explain SRC DST --json` and `matrix --json` on
// examples/microseg.cfg (web 10 with children wiki 11 and wol 12, db 20).
using System.Text;
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class WorkedExampleCliTests : IDisposable
{
    private readonly ConfigDir dir = new ConfigDir().WithExample();

    public void Dispose() => dir.Dispose();

    private static (string Rule, int Dst, int Src)[] Candidates(JsonElement e) =>
        [.. e.GetProperty("candidates").EnumerateArray()
            .Select(c => (c.GetProperty("rule").GetString()!, c.GetProperty("dst_distance").GetInt32(), c.GetProperty("src_distance").GetInt32()))];

    private JsonElement Explain(string src, string dst, params string[] extra)
    {
        var json = dir.Ok(["explain", src, dst, "--json", .. extra]).Json();
        Assert.Equal(src, json.GetProperty("src").GetString());
        Assert.Equal(dst, json.GetProperty("dst").GetString());
        return json;
    }

    [Fact]
    public void Db_to_CT100_in_wiki_is_allowed_by_the_inherited_rule()
    {
        var e = Explain("db", "wiki");
        Assert.Equal("allow", e.GetProperty("verdict").GetString());
        Assert.Equal("p20-10", e.GetProperty("rule").GetString());
        Assert.Equal([("p20-10", 1, 0)], Candidates(e));
        var candidate = e.GetProperty("candidates")[0];
        Assert.Equal("db", candidate.GetProperty("src").GetString());
        Assert.Equal("web", candidate.GetProperty("dst").GetString());
        Assert.Equal("allow", candidate.GetProperty("action").GetString());
    }

    [Fact]
    public void Db_to_CT101_in_wol_is_denied_dst_distance_0_beats_1()
    {
        var e = Explain("db", "wol");
        Assert.Equal("deny", e.GetProperty("verdict").GetString());
        Assert.Equal("p20-12", e.GetProperty("rule").GetString());
        Assert.Equal([("p20-12", 0, 0), ("p20-10", 1, 0)], Candidates(e));
    }

    [Fact]
    public void Web_to_CT200_in_db_is_allowed()
    {
        var e = Explain("web", "db");
        Assert.Equal("allow", e.GetProperty("verdict").GetString());
        Assert.Equal("p10-20", e.GetProperty("rule").GetString());
        Assert.Equal([("p10-20", 0, 0)], Candidates(e));
    }

    [Theory]
    [InlineData("wiki")]
    [InlineData("wol")]
    public void Children_of_web_to_CT200_are_allowed_at_src_distance_1(string child)
    {
        var e = Explain(child, "db");
        Assert.Equal("allow", e.GetProperty("verdict").GetString());
        Assert.Equal("p10-20", e.GetProperty("rule").GetString());
        Assert.Equal([("p10-20", 0, 1)], Candidates(e));
    }

    [Theory]
    [InlineData("web")]
    [InlineData("wiki")]
    [InlineData("wol")]
    [InlineData("db")]
    public void Untagged_to_any_group_is_denied_with_rule_null(string dst)
    {
        var e = Explain("untagged", dst);
        Assert.Equal("deny", e.GetProperty("verdict").GetString());
        Assert.Equal(JsonValueKind.Null, e.GetProperty("rule").ValueKind);
        Assert.Empty(Candidates(e));
    }

    [Fact]
    public void Matrix_json_has_every_pair_with_its_verdict_and_rule()
    {
        var json = dir.Ok("matrix", "--json").Json();
        Assert.Equal(["db", "web", "wiki", "wol"], json.GetProperty("groups").EnumerateArray().Select(g => g.GetString()));
        var cells = json.GetProperty("matrix").EnumerateArray()
            .ToDictionary(c => (c.GetProperty("src").GetString()!, c.GetProperty("dst").GetString()!),
                          c => (Verdict: c.GetProperty("verdict").GetString(), Rule: c.GetProperty("rule").ValueKind == JsonValueKind.Null ? null : c.GetProperty("rule").GetString()));
        Assert.Equal(5 * 4, cells.Count);
        var expected = new Dictionary<(string, string), (string, string?)>
        {
            [("db", "wiki")] = ("allow", "p20-10"),
            [("db", "web")] = ("allow", "p20-10"),
            [("db", "wol")] = ("deny", "p20-12"),
            [("web", "db")] = ("allow", "p10-20"),
            [("wiki", "db")] = ("allow", "p10-20"),
            [("wol", "db")] = ("allow", "p10-20"),
        };
        foreach (var src in new[] { "untagged", "db", "web", "wiki", "wol" })
            foreach (var dst in new[] { "db", "web", "wiki", "wol" })
            {
                var want = expected.TryGetValue((src, dst), out var w) ? w : ("deny", null);
                Assert.True(cells.TryGetValue((src, dst), out var got), $"no cell {src} -> {dst}");
                Assert.True(want == got, $"{src} -> {dst}: expected {want}, got {got}");
            }
    }

    [Fact]
    public void Matrix_table_has_a_row_per_source_and_a_column_per_destination()
    {
        var lines = dir.Ok("matrix").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["SRC", "\\", "DST", "db", "web", "wiki", "wol"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["untagged", "deny", "deny", "deny", "deny"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["db", "deny", "allow", "allow", "deny"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["wol", "allow", "deny", "deny", "deny"], lines[5].Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Explain_in_words_names_verdict_rule_and_candidates_with_distances()
    {
        var text = dir.Ok("explain", "db", "wol").Out;
        Assert.StartsWith("db -> wol: deny", text);
        Assert.Contains("p20-12", text);
        var rows = text.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(r => r.Length == 6).ToList();
        Assert.Contains(rows, r => r.SequenceEqual(["p20-12", "db", "wol", "deny", "0", "0"]));
        Assert.Contains(rows, r => r.SequenceEqual(["p20-10", "db", "web", "allow", "1", "0"]));
    }

    [Fact]
    public void Explain_of_the_committed_snapshot_gives_the_same_answer()
    {
        dir.Ok("commit");
        // Change the pending file: --running must still resolve what was committed.
        dir.Ok("rule", "set", "p20-12", "--action", "allow");
        Assert.Equal("allow", dir.Ok("explain", "db", "wol", "--json").Json().GetProperty("verdict").GetString());
        var running = dir.Ok("explain", "db", "wol", "--json", "--running").Json();
        Assert.Equal("deny", running.GetProperty("verdict").GetString());
        Assert.Equal("p20-12", running.GetProperty("rule").GetString());
    }

    [Fact]
    public void Explain_of_a_proxmox_sdn_running_config()
    {
        var snapshot = Encoding.UTF8.GetString(SnapshotFormat.Write(new Snapshot(4, SectionConfig.Parse(dir.Pending, "x"))));
        var sdn = Path.Combine(dir.Path, "sdn-running-config");
        File.WriteAllText(sdn, $"{{\"version\": 12, \"vnets\": {{\"ids\": {{}}}}, \"microseg\": {snapshot}}}");
        File.Delete(dir.PendingPath);
        var e = dir.Ok("explain", "wiki", "db", "--json", "--running-config", sdn).Json();
        Assert.Equal("allow", e.GetProperty("verdict").GetString());
        Assert.Equal([("p10-20", 0, 1)], Candidates(e));
    }

    [Fact]
    public void Explain_running_before_any_commit_fails_with_a_hint()
    {
        var r = dir.Run("explain", "db", "wiki", "--running");
        Assert.Equal(1, r.Exit);
        Assert.Contains("commit", r.Err);
    }

    [Theory]
    [InlineData("nosuch", "db")]
    [InlineData("db", "nosuch")]
    [InlineData("db", "untagged")]
    public void Explain_of_an_unknown_group_is_exit_1_naming_it(string src, string dst)
    {
        var r = dir.Run("explain", src, dst);
        Assert.Equal(1, r.Exit);
        Assert.Contains(src == "db" ? dst : src, r.Err);
    }
}
