// 400 with per-field messages for invalid input, 409 for a stale digest; neither writes.
using System.Net;

namespace Microseg.Api.Tests;

public sealed class ValidationAndConflictTests
{
    private const string TwoGroups = "group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n";

    [Fact]
    public async Task A_write_based_on_a_stale_digest_is_a_conflict_and_changes_nothing()
    {
        await using var api = await ApiHost.StartAsync(TwoGroups);
        var stale = api.PendingDigest;
        await api.Ok(HttpMethod.Post, "group", new { id = "app" }); // someone else's edit
        var bytes = File.ReadAllBytes(api.PendingPath);

        var attempts = new[]
        {
            await api.Post("group", new { id = "wiki", digest = stale }),
            await api.Put("group/web", new { comment = "x", digest = stale }),
            await api.Delete("group/db", new { digest = stale }),
            await api.Delete($"group/db?digest={stale}"),
            await api.Post("rule", new { src = "db", dst = "web", action = "allow", digest = stale }),
            await api.Post("commit", new { digest = stale }),
        };
        Assert.All(attempts, r =>
        {
            Assert.True(r.Status == HttpStatusCode.Conflict, r.ToString());
            Assert.Contains(api.PendingDigest, r.Error("digest"));
        });
        Assert.Equal(bytes, File.ReadAllBytes(api.PendingPath));
        Assert.False(File.Exists(api.RunningPath));

        // With the current digest the same edit goes through.
        var ok = await api.Put("group/web", new { comment = "x", digest = api.PendingDigest });
        Assert.Equal(HttpStatusCode.OK, ok.Status);
    }

    [Fact]
    public async Task Of_many_concurrent_writes_based_on_one_digest_exactly_one_wins()
    {
        await using var api = await ApiHost.StartAsync(TwoGroups);
        var digest = api.PendingDigest;
        var writes = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            api.Put("group/web", new { comment = $"writer {i}", digest })));
        var winners = writes.Where(r => r.Status == HttpStatusCode.OK).ToList();
        Assert.Single(winners);
        Assert.All(writes.Where(r => r.Status != HttpStatusCode.OK), r => Assert.Equal(HttpStatusCode.Conflict, r.Status));
        Assert.Equal(winners[0].Data.Str("comment"), api.Store.ReadPending().Config.Groups["web"].Comment);
        Assert.Equal(api.PendingDigest, winners[0].Data.Str("digest"));
    }

    [Fact]
    public async Task Invalid_input_is_refused_with_a_message_per_field()
    {
        await using var api = await ApiHost.StartAsync(TwoGroups);
        var bytes = File.ReadAllBytes(api.PendingPath);

        var group = await api.Post("group", new { id = "9bad", mark = 0, bogus = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, group.Status);
        Assert.Contains("invalid group name", group.Error("id"));
        Assert.Contains("reserved for untagged", group.Error("mark"));
        Assert.Contains("unknown parameter", group.Error("bogus"));

        var parent = await api.Post("group", new { id = "wiki", parent = "nope" });
        Assert.Contains("unknown parent group 'nope'", parent.Error("parent"));

        var taken = await api.Post("group", new { id = "app", mark = 20 });
        Assert.Contains("already used by group 'db'", taken.Error("mark"));

        var duplicate = await api.Post("group", new { id = "web" });
        Assert.Contains("already exists", duplicate.Error("id"));

        var rule = await api.Post("rule", new { src = "db", dst = "nope", action = "maybe" });
        Assert.Equal(HttpStatusCode.BadRequest, rule.Status);
        Assert.Contains("not 'allow' or 'deny'", rule.Error("action"));
        var unknownDst = await api.Post("rule", new { src = "db", dst = "nope", action = "allow" });
        Assert.Contains("unknown group 'nope'", unknownDst.Error("dst"));
        var missing = await api.Post("rule", new { src = "db" });
        Assert.Equal("is required", missing.Error("dst"));
        Assert.Equal("is required", missing.Error("action"));

        var assignment = await api.Post("assignment", new { vmid = 5, iface = 40, group = "web" });
        Assert.Contains("out of range", assignment.Error("vmid"));
        Assert.Contains("out of range", assignment.Error("iface"));
        var notNumber = await api.Post("assignment", new { vmid = "abc", iface = 0, group = "web" });
        Assert.Contains("not a whole number", notNumber.Error("vmid"));

        var bridge = await api.Post("bridge", new { id = "way/too/long/name", nodes = "-bad-" });
        Assert.Contains("invalid interface name", bridge.Error("id"));
        var badNode = await api.Post("bridge", new { id = "eth1", nodes = "-bad-" });
        Assert.Contains("invalid node name", badNode.Error("nodes"));

        var forwarder = await api.Post("forwarder", new { id = "net0", router = "eth1", physical = "eth1,eth2", mode = "turbo" });
        Assert.Contains("not 'skb' or 'native'", forwarder.Error("mode"));
        var routerTwice = await api.Post("forwarder", new { id = "net0", router = "eth1", physical = "eth1,eth2" });
        Assert.Contains("also listed as physical", routerTwice.Error("router"));

        var notJson = await api.Post("group", "{not json");
        Assert.Equal(HttpStatusCode.BadRequest, notJson.Status);
        Assert.Contains("not valid JSON", notJson.Body.Str("message"));

        Assert.Equal(bytes, File.ReadAllBytes(api.PendingPath));
    }

    [Fact]
    public async Task Edits_that_would_break_references_or_make_cycles_are_refused()
    {
        await using var api = await ApiHost.StartAsync(TwoGroups + "\ngroup: wiki\n\tmark 11\n\tparent web\n\nrule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n");
        var bytes = File.ReadAllBytes(api.PendingPath);

        var delete = await api.Delete("group/db");
        Assert.Equal(HttpStatusCode.BadRequest, delete.Status);
        Assert.Contains("rule 'p20-10': unknown src group 'db'", delete.Error("id"));

        var cycle = await api.Put("group/web", new { parent = "wiki" });
        Assert.Equal(HttpStatusCode.BadRequest, cycle.Status);
        Assert.Contains("parent cycle: web -> wiki -> web", cycle.Error("parent"));

        var self = await api.Put("group/web", new { parent = "web" });
        Assert.Contains("is its own parent", self.Error("parent"));

        var srcChange = await api.Put("rule/p20-10", new { src = "web" });
        Assert.Contains("cannot be changed", srcChange.Error("src"));

        var twice = await api.Post("rule", new { src = "db", dst = "web", action = "deny" });
        Assert.Contains("already covers db -> web", twice.Error("dst"));

        var badDelete = await api.Put("rule/p20-10", new { delete = "action" });
        Assert.Contains("cannot be deleted", badDelete.Error("delete"));

        Assert.Equal(bytes, File.ReadAllBytes(api.PendingPath));
    }

    [Fact]
    public async Task A_hand_broken_pending_file_is_reported_with_file_and_line_and_not_overwritten()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n\tcolour blue\n");
        var bytes = File.ReadAllBytes(api.PendingPath);
        var list = await api.Get("group");
        Assert.Equal(HttpStatusCode.BadRequest, list.Status);
        Assert.Contains($"{api.PendingPath}:3: group 'web': unknown key 'colour'", list.Body.Str("message"));
        var create = await api.Post("group", new { id = "db" });
        Assert.Equal(HttpStatusCode.BadRequest, create.Status);
        Assert.Contains("unknown key 'colour'", create.Body.Str("message"));
        Assert.Equal(bytes, File.ReadAllBytes(api.PendingPath));
    }

    [Fact]
    public async Task Unknown_paths_and_ids_are_not_found()
    {
        await using var api = await ApiHost.StartAsync(TwoGroups);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Get("group/nope")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Get("widget")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Get("/api2/json/nodes")).Status);
        var explain = await api.Get("explain?src=web&dst=nope");
        Assert.Equal(HttpStatusCode.BadRequest, explain.Status);
        Assert.Contains("unknown destination group 'nope'", explain.Error("dst"));
    }
}
