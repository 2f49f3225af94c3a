// Parameters as Proxmox's own API server takes them (pve-common's JSONSchema and SectionConfig,
// pve-network's SDN lists): booleans in every form parse_boolean knows, unknown query
// parameters refused, running=1 reading the committed snapshot, the digest on every list item,
// and `delete` lists split on commas, semicolons and whitespace.
using System.Net;
using System.Text.Json;

namespace Microseg.Api.Tests;

public sealed class ProxmoxCompatTests
{
    private const string TwoGroups = "group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n";

    /// <summary>web and db committed; app only pending.</summary>
    private static async Task<ApiHost> CommittedAndPending()
    {
        var api = await ApiHost.StartAsync(TwoGroups);
        await api.Ok(HttpMethod.Post, "commit");
        await api.Ok(HttpMethod.Post, "group", new { id = "app", mark = 30 });
        return api;
    }

    private static List<string> Ids(ApiResponse r) => [.. r.Data.EnumerateArray().Select(o => o.Str("id")!).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Booleans_take_every_form_proxmox_parses_and_nothing_else()
    {
        await using var api = await CommittedAndPending();
        foreach (var yes in new[] { "1", "on", "yes", "true", "ON", "Yes", "TRUE", "tRuE" })
        {
            var r = await api.Get($"group?running={yes}");
            Assert.True(r.Status == HttpStatusCode.OK, $"running={yes}: {r}");
            Assert.Equal(["db", "web"], Ids(r));
            var matrix = await api.Get($"matrix?running={yes}");
            Assert.DoesNotContain("app", matrix.Text);
        }
        foreach (var no in new[] { "0", "off", "no", "false", "OFF", "No", "False" })
            Assert.Equal(["app", "db", "web"], Ids(await api.Get($"group?running={no}")));
        foreach (var bad in new[] { "maybe", "2", "", "y", "truee", "1,1" })
        {
            var r = await api.Get($"group?running={Uri.EscapeDataString(bad)}");
            Assert.True(r.Status == HttpStatusCode.BadRequest, $"running={bad}: {r}");
            Assert.Contains("boolean", r.Error("running"));
        }
        var json = await api.Send(HttpMethod.Get, "group", new { running = true }, api.Admin);
        Assert.Equal(["db", "web"], Ids(json));
        var explain = await api.Get("explain?src=db&dst=web&running=maybe");
        Assert.Contains("boolean", explain.Error("running"));
    }

    [Fact]
    public async Task Unknown_query_parameters_on_reads_are_refused()
    {
        await using var api = await ApiHost.StartAsync(TwoGroups);
        foreach (var path in new[] { "/api2/json/cluster/sdn/microseg?verbose=1", "group?bogus=1", "group/web?bogus=1", "pending?x=1", "status?x=1", "matrix?x=1", "group?digest=" + new string('a', 64) })
        {
            var r = await api.Get(path);
            Assert.True(r.Status == HttpStatusCode.BadRequest, $"GET {path}: {r}");
            Assert.Contains("unknown parameter", r.Body.GetProperty("errors").EnumerateObject().Single().Value.GetString());
        }
    }

    [Fact]
    public async Task Running_1_reads_lists_and_objects_from_the_committed_snapshot()
    {
        await using (var fresh = await ApiHost.StartAsync(TwoGroups))
        {
            Assert.Equal(HttpStatusCode.NotFound, (await fresh.Get("group?running=1")).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await fresh.Get("group/web?running=1")).Status);
        }
        await using var api = await CommittedAndPending();
        await api.Ok(HttpMethod.Put, "group/web", new { comment = "pending only" });

        Assert.Equal(["app", "db", "web"], Ids(await api.Get("group")));
        var running = await api.Get("group?running=1");
        Assert.Equal(["db", "web"], Ids(running));
        Assert.Null(running.Data.EnumerateArray().Single(g => g.Str("id") == "web").Str("comment"));

        Assert.Equal("pending only", (await api.Ok(HttpMethod.Get, "group/web")).Str("comment"));
        var web = await api.Ok(HttpMethod.Get, "group/web?running=1");
        Assert.Equal(10, web.Int("mark"));
        Assert.Null(web.Str("comment"));
        Assert.Equal(HttpStatusCode.NotFound, (await api.Get("group/app?running=1")).Status);
        Assert.Equal(HttpStatusCode.OK, (await api.Get("group/app?running=0")).Status);
    }

    [Fact]
    public async Task Every_list_item_carries_the_digest()
    {
        await using var api = await CommittedAndPending();
        await api.Ok(HttpMethod.Post, "rule", new { src = "db", dst = "web", action = "allow" });
        foreach (var type in new[] { "group", "rule" })
        {
            var list = await api.Get(type);
            Assert.NotEmpty(list.Data.EnumerateArray());
            Assert.All(list.Data.EnumerateArray(), o => Assert.Equal(api.PendingDigest, o.Str("digest")));
            Assert.Equal(api.PendingDigest, list.Body.Str("digest"));
        }
        // The snapshot is not what writes are checked against: as in Proxmox's running lists,
        // its items carry the key, null.
        var running = await api.Get("group?running=1");
        Assert.All(running.Data.EnumerateArray(), o => Assert.Equal(JsonValueKind.Null, o.GetProperty("digest").ValueKind));
        Assert.Equal(JsonValueKind.Null, (await api.Ok(HttpMethod.Get, "group/web?running=1")).GetProperty("digest").ValueKind);
    }

    [Fact]
    public async Task Delete_lists_split_on_commas_semicolons_and_whitespace()
    {
        const string Wiki = TwoGroups + "\ngroup: wiki\n\tmark 11\n\tparent web\n\tcomment kb\n";
        foreach (var delete in new object[] { "parent;comment", "parent comment", "parent,\tcomment", " parent ;, comment ", "parent\ncomment", new[] { "parent", "comment" } })
        {
            await using var api = await ApiHost.StartAsync(Wiki);
            var r = await api.Put("group/wiki", new { delete });
            Assert.True(r.Status == HttpStatusCode.OK, $"delete={JsonSerializer.Serialize(delete)}: {r}");
            var wiki = api.Store.ReadPending().Config.Groups["wiki"];
            Assert.Equal((null, null), (wiki.Parent, wiki.Comment));
        }
    }

    [Fact]
    public async Task Setting_and_deleting_one_property_in_one_request_is_refused()
    {
        await using var api = await ApiHost.StartAsync(TwoGroups + "\ngroup: wiki\n\tmark 11\n\tparent web\n\tcomment kb\n\nbridge: eth1\n\tnodes n1\n");
        var before = File.ReadAllBytes(api.PendingPath);
        foreach (var (path, body) in new (string, object)[]
        {
            ("group/wiki", new { comment = "new", delete = "comment" }),
            ("group/wiki", new { parent = "db", delete = "comment;parent" }),
            ("bridge/eth1", new { nodes = "n2", delete = "nodes" }),
        })
        {
            var r = await api.Put(path, body);
            Assert.True(r.Status == HttpStatusCode.BadRequest, $"{path} {JsonSerializer.Serialize(body)}: {r}");
            Assert.Contains("cannot set and delete", r.Error("delete"));
        }
        Assert.Equal(before, File.ReadAllBytes(api.PendingPath));
    }
}
