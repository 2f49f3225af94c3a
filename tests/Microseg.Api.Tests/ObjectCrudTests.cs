// Create, list, read, update and delete of every object type over HTTP, with derived ids and
// the digest of the pending file on every answer.
using System.Net;
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Api.Tests;

public sealed class ObjectCrudTests
{
    [Fact]
    public async Task Groups_are_created_listed_read_updated_and_deleted()
    {
        await using var api = await ApiHost.StartAsync();

        var web = await api.Ok(HttpMethod.Post, "group", new { id = "web", comment = "web tier" });
        Assert.Equal("group", web.Str("type"));
        Assert.Equal("web", web.Str("id"));
        Assert.Equal(1, web.Int("mark")); // lowest free mark, stored in the file
        Assert.Equal(api.PendingDigest, web.Str("digest"));
        await api.Ok(HttpMethod.Post, "group", new { id = "wiki", mark = 11, parent = "web" });

        var list = await api.Get("group");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal(["web", "wiki"], list.Data.EnumerateArray().Select(g => g.Str("id")!));
        Assert.Equal(api.PendingDigest, list.Body.Str("digest"));

        var wiki = await api.Ok(HttpMethod.Get, "group/wiki");
        Assert.Equal(11, wiki.Int("mark"));
        Assert.Equal("web", wiki.Str("parent"));
        Assert.Equal(api.PendingDigest, wiki.Str("digest"));

        var updated = await api.Ok(HttpMethod.Put, "group/wiki", new { comment = "knowledge base", delete = "parent" });
        Assert.Equal("knowledge base", updated.Str("comment"));
        Assert.Null(updated.Str("parent"));
        var inFile = api.Store.ReadPending().Config.Groups["wiki"];
        Assert.Equal(new Group("wiki", 11, null, "knowledge base"), inFile);

        var deleted = await api.Ok(HttpMethod.Delete, "group/wiki");
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, (await api.Get("group/wiki")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Delete("group/wiki")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Put("group/wiki", new { comment = "x" })).Status);
    }

    [Fact]
    public async Task Rule_ids_are_derived_from_the_marks_and_follow_a_mark_change()
    {
        await using var api = await ApiHost.StartAsync();
        await api.Ok(HttpMethod.Post, "group", new { id = "web", mark = 10 });
        await api.Ok(HttpMethod.Post, "group", new { id = "db", mark = 20 });

        var rule = await api.Ok(HttpMethod.Post, "rule", new { src = "db", dst = "web", action = "allow", comment = "app traffic" });
        Assert.Equal("p20-10", rule.Str("id"));
        var untagged = await api.Ok(HttpMethod.Post, "rule", new { src = "untagged", dst = "db", action = "deny" });
        Assert.Equal("p0-20", untagged.Str("id"));
        Assert.False(untagged.TryGetProperty("src", out _));

        var read = await api.Ok(HttpMethod.Get, "rule/p20-10");
        Assert.Equal(("db", "web", "allow", "app traffic"), (read.Str("src"), read.Str("dst"), read.Str("action"), read.Str("comment")));

        var denied = await api.Ok(HttpMethod.Put, "rule/p20-10", new { action = "deny", delete = "comment" });
        Assert.Equal("deny", denied.Str("action"));
        Assert.Null(denied.Str("comment"));

        // A mark change re-derives the ids of the rules that name the group.
        await api.Ok(HttpMethod.Put, "group/db", new { mark = 21 });
        var rules = (await api.Get("rule")).Data.EnumerateArray().Select(r => r.Str("id")).ToList();
        Assert.Equal(["p0-21", "p21-10"], rules);

        await api.Ok(HttpMethod.Delete, "rule/p21-10");
        Assert.Equal(["p0-21"], api.Store.ReadPending().Config.Rules.Keys);
    }

    [Fact]
    public async Task Assignment_ids_are_derived_from_vmid_and_iface()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n");
        var a = await api.Ok(HttpMethod.Post, "assignment", new { vmid = 100, iface = 0, group = "web" });
        Assert.Equal("vm100i0", a.Str("id"));
        // Numbers as strings, as Proxmox clients send them.
        var b = await api.Ok(HttpMethod.Post, "assignment", new { vmid = "101", iface = "2", group = "db" });
        Assert.Equal("vm101i2", b.Str("id"));

        var moved = await api.Ok(HttpMethod.Put, "assignment/vm100i0", new { group = "db" });
        Assert.Equal("db", moved.Str("group"));
        Assert.Equal(100, moved.Int("vmid"));
        Assert.Equal(["vm100i0", "vm101i2"], (await api.Get("assignment")).Data.EnumerateArray().Select(x => x.Str("id")!));

        await api.Ok(HttpMethod.Delete, "assignment/vm101i2");
        Assert.Equal(new Assignment(100, 0, "db"), api.Store.ReadPending().Config.Assignments.Values.Single());
    }

    [Fact]
    public async Task Bridges_and_forwarders_have_given_ids_and_lists()
    {
        await using var api = await ApiHost.StartAsync();
        var bridge = await api.Ok(HttpMethod.Post, "bridge", new { id = "eth1", nodes = "node1,node2" });
        Assert.Equal(["node1", "node2"], bridge.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()!));
        var all = await api.Ok(HttpMethod.Post, "bridge", new { id = "vxlan0" });
        Assert.False(all.TryGetProperty("nodes", out _)); // empty = every node
        var renodes = await api.Ok(HttpMethod.Put, "bridge/eth1", new { nodes = new[] { "node3" } });
        Assert.Equal(["node3"], renodes.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()!));
        var cleared = await api.Ok(HttpMethod.Put, "bridge/eth1", new { delete = "nodes" });
        Assert.False(cleared.TryGetProperty("nodes", out _));

        var fw = await api.Ok(HttpMethod.Post, "forwarder", new { id = "net0", router = "eth9", physical = "eth1,eth2" });
        Assert.Equal(("eth9", "skb"), (fw.Str("router"), fw.Str("mode")));
        var native = await api.Ok(HttpMethod.Put, "forwarder/net0", new { mode = "native", physical = "*" });
        Assert.Equal(("native", "*"), (native.Str("mode"), native.GetProperty("physical")[0].GetString()));
        Assert.Equal(new Forwarder("net0", "eth9", new ValueList<string>(["*"]), ForwarderMode.Native),
            api.Store.ReadPending().Config.Forwarders["net0"]);

        await api.Ok(HttpMethod.Delete, "bridge/vxlan0");
        await api.Ok(HttpMethod.Delete, "forwarder/net0");
        var config = api.Store.ReadPending().Config;
        Assert.Equal(["eth1"], config.Bridges.Keys);
        Assert.Empty(config.Forwarders);
    }

    [Fact]
    public async Task Form_encoded_parameters_work_like_json()
    {
        await using var api = await ApiHost.StartAsync();
        using var http = new HttpClient { BaseAddress = api.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{ApiHost.Base}/group")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["id"] = "web", ["mark"] = "7" }),
        };
        request.Headers.TryAddWithoutValidation("Authorization", $"PVEAPIToken={api.Admin}");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(7, api.Store.ReadPending().Config.Groups["web"].Mark);
    }

    [Fact]
    public async Task Pending_lists_what_a_commit_would_change()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n");
        var before = await api.Ok(HttpMethod.Get, "pending");
        Assert.Equal(JsonValueKind.Null, before.GetProperty("running_version").ValueKind);
        Assert.Equal(["added db", "added web"], Changes(before));

        await api.Ok(HttpMethod.Post, "commit");
        Assert.Empty(Changes(await api.Ok(HttpMethod.Get, "pending")));

        await api.Ok(HttpMethod.Put, "group/web", new { comment = "web tier" });
        await api.Ok(HttpMethod.Delete, "group/db");
        await api.Ok(HttpMethod.Post, "bridge", new { id = "eth1" });
        var after = await api.Ok(HttpMethod.Get, "pending");
        Assert.Equal(1, after.Int("running_version"));
        Assert.Equal(["deleted db", "modified web", "added eth1"], Changes(after));
        var modified = after.GetProperty("changes").EnumerateArray().Single(c => c.Str("change") == "modified");
        Assert.Equal("web tier", modified.GetProperty("pending").Str("comment"));
        Assert.Null(modified.GetProperty("running").Str("comment"));
    }

    private static List<string> Changes(JsonElement pending) =>
        [.. pending.GetProperty("changes").EnumerateArray().Select(c => $"{c.Str("change")} {c.Str("id")}")];

    [Fact]
    public async Task Concurrent_creates_all_land()
    {
        await using var api = await ApiHost.StartAsync();
        var creates = Enumerable.Range(0, 40).Select(i => api.Post("group", new { id = $"g{i}" }));
        var responses = await Task.WhenAll(creates);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var config = api.Store.ReadPending().Config;
        Assert.Equal(40, config.Groups.Count);
        Assert.Equal(Enumerable.Range(1, 40), config.Groups.Values.Select(g => g.Mark!.Value).Order());
        Assert.Empty(Validation.Check(config));
    }
}
