// The API side of the config-safety review: no control character reaches the file, comments
// are bounded, a mark change cannot re-derive a rule id onto another type's id, forwarders
// take nodes. Each refusal is a 400 under its field and leaves the file byte for byte.
using System.Net;

namespace Microseg.Api.Tests;

public sealed class ConfigSafetyApiTests
{
    private const string Evil = "x\n\ngroup: evil\n\tmark 9";
    private const string Base = "group: web\n\tmark 10\n\nbridge: eth1\n\nforwarder: net0\n\trouter eth9\n\tphysical eth2\n\tmode skb\n";

    [Fact]
    public async Task A_value_with_a_newline_never_lands_as_a_section()
    {
        await using var api = await ApiHost.StartAsync(Base);
        var bytes = File.ReadAllBytes(api.PendingPath);
        var attempts = new (string Field, Task<ApiResponse> Request)[]
        {
            ("parent", api.Post("group", new { id = "app", parent = Evil })),
            ("parent", api.Put("group/web", new { parent = Evil })),
            ("src", api.Post("rule", new { src = Evil, dst = "web", action = "allow" })),
            ("group", api.Post("assignment", new { vmid = 100, iface = 0, group = Evil })),
            ("nodes", api.Post("bridge", new { id = "eth3", nodes = new[] { "n1", Evil } })),
            ("nodes", api.Put("bridge/eth1", new { nodes = new[] { Evil } })),
            ("router", api.Put("forwarder/net0", new { router = Evil })),
            ("nodes", api.Put("forwarder/net0", new { nodes = new[] { Evil } })),
        };
        foreach (var (field, request) in attempts)
        {
            var r = await request;
            Assert.True(r.Status == HttpStatusCode.BadRequest, $"{field}: {r}");
            Assert.Contains("control character", r.Error(field));
        }
        Assert.Equal(bytes, File.ReadAllBytes(api.PendingPath));
        Assert.DoesNotContain("evil", File.ReadAllText(api.PendingPath));
    }

    [Fact]
    public async Task A_comment_over_4096_characters_is_a_400_under_comment()
    {
        await using var api = await ApiHost.StartAsync(Base);
        var bytes = File.ReadAllBytes(api.PendingPath);
        var r = await api.Put("group/web", new { comment = new string('c', 5000) });
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains("4096", r.Error("comment"));
        r = await api.Post("rule", new { dst = "web", action = "allow", comment = new string('é', 4097) }); // characters, as Proxmox counts
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains("4096", r.Error("comment"));
        Assert.Equal(bytes, File.ReadAllBytes(api.PendingPath));
    }

    [Fact]
    public async Task A_mark_change_that_would_re_derive_a_rule_id_onto_a_group_is_refused()
    {
        await using var api = await ApiHost.StartAsync(
            "group: a\n\tmark 1\n\ngroup: b\n\tmark 2\n\ngroup: p3-2\n\tmark 7\n\nrule: p1-2\n\tsrc a\n\tdst b\n\taction allow\n");
        var bytes = File.ReadAllBytes(api.PendingPath);
        var r = await api.Put("group/a", new { mark = 3 });
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains("rule 'p1-2'", r.Error("mark"));
        Assert.Contains("group 'p3-2'", r.Error("mark"));
        Assert.Equal(bytes, File.ReadAllBytes(api.PendingPath));
        await api.Ok(HttpMethod.Get, "group");
    }

    [Fact]
    public async Task Forwarders_take_nodes()
    {
        await using var api = await ApiHost.StartAsync(Base);
        var created = await api.Ok(HttpMethod.Post, "forwarder", new { id = "net1", router = "eth8", physical = "eth3", nodes = "node1,node2" });
        Assert.Equal(["node1", "node2"], created.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()));
        Assert.Contains("\tnodes node1,node2\n", File.ReadAllText(api.PendingPath));
        await api.Ok(HttpMethod.Put, "forwarder/net1", new { delete = "nodes" });
        Assert.DoesNotContain("nodes", File.ReadAllText(api.PendingPath));
        var bad = await api.Put("forwarder/net1", new { nodes = "-bad" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("invalid node name", bad.Error("nodes"));
    }
}
