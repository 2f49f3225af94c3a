// Services on rules (proto, dport), the group switches (stateful, infra, audit), explain for one
// service or per service, and matrix cells whose verdict depends on the service: through the
// API in JSON and as a form, each refusal a 400 under its field, each answer as the CLI's.
using System.Net;
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Api.Tests;

public sealed class ServiceApiTests
{
    private const string Tiers = "group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n";

    private static async Task<ApiResponse> PostForm(ApiHost api, string path, Dictionary<string, string> fields, HttpMethod? method = null)
    {
        using var http = new HttpClient { BaseAddress = api.Address };
        using var request = new HttpRequestMessage(method ?? HttpMethod.Post, $"{ApiHost.Base}/{path}") { Content = new FormUrlEncodedContent(fields) };
        request.Headers.TryAddWithoutValidation("Authorization", $"PVEAPIToken={api.Admin}");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new ApiResponse(response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), text);
    }

    [Fact]
    public async Task A_rule_with_a_service_gets_its_derived_id_in_json_and_as_a_form()
    {
        await using var api = await ApiHost.StartAsync(Tiers);
        var rule = await api.Ok(HttpMethod.Post, "rule", new { src = "web", dst = "db", proto = "tcp", dport = 5432, action = "allow" });
        Assert.Equal("p10-20-tcp5432", rule.Str("id"));
        Assert.Equal(("tcp", "5432"), (rule.Str("proto"), rule.Str("dport")));

        var form = await PostForm(api, "rule", new() { ["src"] = "web", ["dst"] = "db", ["proto"] = "udp", ["dport"] = "8000-8080", ["action"] = "allow" });
        Assert.Equal(HttpStatusCode.OK, form.Status);
        Assert.Equal("p10-20-udp8000-8080", form.Data.Str("id"));
        var icmp = await api.Ok(HttpMethod.Post, "rule", new { src = "web", dst = "db", proto = "icmp", action = "allow" });
        Assert.Equal("p10-20-icmp", icmp.Str("id"));
        Assert.False(icmp.TryGetProperty("dport", out _));
        var gre = await api.Ok(HttpMethod.Post, "rule", new { src = "web", dst = "db", proto = "47", action = "deny" });
        Assert.Equal(("p10-20-47", "47"), (gre.Str("id"), gre.Str("proto")));
        await api.Ok(HttpMethod.Post, "rule", new { src = "web", dst = "db", action = "deny" });

        var rules = api.Store.ReadPending().Config.Rules;
        Assert.Equal(new Service(Service.Tcp, new PortRange(5432, 5432)), rules["p10-20-tcp5432"].Service);
        Assert.Equal(new Service(Service.Udp, new PortRange(8000, 8080)), rules["p10-20-udp8000-8080"].Service);
        Assert.Null(rules["p10-20"].Service);
        // The file says it as a person would write it.
        Assert.Contains("rule: p10-20-tcp5432\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport 5432\n", File.ReadAllText(api.PendingPath));

        // One rule per (src, dst, service): the same service again is refused under id.
        var again = await api.Post("rule", new { src = "web", dst = "db", proto = "tcp", dport = "5432", action = "deny" });
        Assert.Equal(HttpStatusCode.BadRequest, again.Status);
        Assert.Contains("p10-20-tcp5432", again.Text);

        // The service is part of the id: an update cannot change it, but changes the action.
        var change = await api.Put("rule/p10-20-tcp5432", new { dport = 5433 });
        Assert.Equal(HttpStatusCode.BadRequest, change.Status);
        Assert.Contains("cannot be changed", change.Error("dport"));
        var flipped = await api.Ok(HttpMethod.Put, "rule/p10-20-tcp5432", new { action = "deny", comment = "closed" });
        Assert.Equal(("deny", "tcp", "5432"), (flipped.Str("action"), flipped.Str("proto"), flipped.Str("dport")));
        await api.Ok(HttpMethod.Delete, "rule/p10-20-tcp5432");
        Assert.False(api.Store.ReadPending().Config.Rules.ContainsKey("p10-20-tcp5432"));
    }

    [Theory]
    [InlineData("{\"proto\":\"tpc\"}", "proto", "unknown protocol 'tpc'")]
    [InlineData("{\"proto\":\"256\"}", "proto", "out of range 0..255")]
    [InlineData("{\"proto\":\"tcp\",\"dport\":70000}", "dport", "out of range 1..65535")]
    [InlineData("{\"proto\":\"tcp\",\"dport\":\"0\"}", "dport", "out of range 1..65535")]
    [InlineData("{\"proto\":\"tcp\",\"dport\":\"9000-8000\"}", "dport", "reversed")]
    [InlineData("{\"proto\":\"tcp\",\"dport\":\"http\"}", "dport", "not a number")]
    [InlineData("{\"proto\":\"icmp\",\"dport\":\"22\"}", "dport", "needs a protocol with ports")]
    [InlineData("{\"dport\":\"22\"}", "dport", "needs a protocol with ports")]
    public async Task A_bad_service_is_400_under_its_field_and_changes_nothing(string service, string field, string problem)
    {
        await using var api = await ApiHost.StartAsync(Tiers);
        var before = File.ReadAllText(api.PendingPath);
        var body = service.TrimEnd('}') + ",\"src\":\"web\",\"dst\":\"db\",\"action\":\"allow\"}";
        var r = await api.Post("rule", body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(problem, r.Error(field));
        Assert.Equal(before, File.ReadAllText(api.PendingPath));
    }

    [Fact]
    public async Task Bad_proto_and_dport_and_an_unknown_group_are_reported_together()
    {
        await using var api = await ApiHost.StartAsync(Tiers);
        var r = await api.Post("rule", new { src = "web", dst = "db", proto = "tpc", dport = "x", action = "maybe" });
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.NotNull(r.Error("proto"));
        Assert.NotNull(r.Error("dport"));
        Assert.NotNull(r.Error("action"));
    }

    [Fact]
    public async Task Group_switches_are_proxmox_booleans_and_delete_makes_them_inherited_again()
    {
        await using var api = await ApiHost.StartAsync();
        var web = await api.Ok(HttpMethod.Post, "group", new { id = "web", stateful = 0, infra = "1" });
        Assert.Equal(0, web.Int("stateful"));
        Assert.Equal(1, web.Int("infra"));
        Assert.False(web.TryGetProperty("audit", out _)); // unset: inherited
        var form = await PostForm(api, "group", new() { ["id"] = "wiki", ["parent"] = "web", ["audit"] = "yes" });
        Assert.Equal(HttpStatusCode.OK, form.Status);
        Assert.Equal(1, form.Data.Int("audit"));
        Assert.Equal(new Group("web", 1, Stateful: false, Infra: true), api.Store.ReadPending().Config.Groups["web"]);
        Assert.Contains("group: web\n\tmark 1\n\tstateful 0\n\tinfra 1\n", File.ReadAllText(api.PendingPath));

        var updated = await api.Ok(HttpMethod.Put, "group/web", new { audit = true, delete = "stateful,infra" });
        Assert.Equal(1, updated.Int("audit"));
        Assert.False(updated.TryGetProperty("stateful", out _));
        Assert.Equal(new Group("web", 1, Audit: true), api.Store.ReadPending().Config.Groups["web"]);
        var off = await PostForm(api, "group/wiki", new() { ["infra"] = "off", ["delete"] = "audit" }, HttpMethod.Put);
        Assert.Equal(HttpStatusCode.OK, off.Status);
        Assert.Equal(new Group("wiki", 2, "web", Infra: false), api.Store.ReadPending().Config.Groups["wiki"]);

        var bad = await api.Post("group", new { id = "db", stateful = "maybe", infra = 2 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("not a boolean", bad.Error("stateful"));
        Assert.Contains("not a boolean", bad.Error("infra"));
        var both = await api.Put("group/web", new { audit = 0, delete = "audit" });
        Assert.Equal(HttpStatusCode.BadRequest, both.Status);
        Assert.Contains("cannot set and delete property 'audit' at the same time", both.Error("delete"));
        Assert.False(api.Store.ReadPending().Config.Groups.ContainsKey("db"));
    }

    private const string Services =
        "group: tier\n\tmark 5\n\ngroup: web\n\tmark 10\n\tparent tier\n\ngroup: app\n\tmark 11\n\tparent tier\n\ngroup: db\n\tmark 20\n\n" +
        "rule: p10-20-tcp5432\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport 5432\n\taction allow\n\n" +
        "rule: p10-20\n\tsrc web\n\tdst db\n\taction deny\n\n" +
        "rule: p5-20\n\tsrc tier\n\tdst db\n\taction allow\n";

    [Fact]
    public async Task Explain_answers_for_one_service_or_lists_every_service_as_the_cli_does()
    {
        await using var api = await ApiHost.StartAsync(Services);
        var pg = await api.Ok(HttpMethod.Get, "explain?src=web&dst=db&proto=tcp&dport=5432");
        Assert.Equal(("allow", "p10-20-tcp5432", "tcp", 5432L), (pg.Str("verdict"), pg.Str("rule"), pg.Str("proto"), pg.Int("dport")));
        var ssh = await api.Ok(HttpMethod.Get, "explain?src=web&dst=db&proto=tcp&dport=22");
        Assert.Equal(("deny", "p10-20"), (ssh.Str("verdict"), ssh.Str("rule")));
        var udp = await api.Ok(HttpMethod.Get, "explain?src=web&dst=db&proto=udp&dport=5432");
        Assert.Equal(("deny", "p10-20"), (udp.Str("verdict"), udp.Str("rule")));
        // The parent's allow-all does not leak through for web; it decides for app.
        var app = await api.Ok(HttpMethod.Get, "explain?src=app&dst=db&proto=6&dport=22");
        Assert.Equal(("allow", "p5-20"), (app.Str("verdict"), app.Str("rule")));

        // Without a service: the answer for packets no service rule matches, and per service.
        var all = await api.Ok(HttpMethod.Get, "explain?src=web&dst=db");
        Assert.Equal(("deny", "p10-20", 1L), (all.Str("verdict"), all.Str("rule"), all.Int("depends_on_service")));
        var perService = all.GetProperty("per_service").EnumerateArray().Select(v => (v.Str("proto"), v.Str("dport"), v.Str("verdict"), v.Str("rule"))).ToList();
        Assert.Contains(("tcp", "5432", "allow", "p10-20-tcp5432"), perService);
        Assert.DoesNotContain(perService, v => v.Item3 == "allow" && v.Item4 != "p10-20-tcp5432");

        // Each answer is the CLI's, for one packet as for the listing (proto alone: a packet
        // without a port, as a fragment after the first).
        foreach (var (query, args) in new (string, string[])[]
        {
            ("src=web&dst=db", []),
            ("src=web&dst=db&proto=tcp&dport=5432", ["--proto", "tcp", "--dport", "5432"]),
            ("src=web&dst=db&proto=tcp", ["--proto", "tcp"]),
            ("src=app&dst=db&proto=udp&dport=53", ["--proto", "udp", "--dport", "53"]),
            ("src=untagged&dst=db&proto=icmp", ["--proto", "icmp"]),
        })
        {
            var (src, dst) = (query.Split('&')[0][4..], query.Split('&')[1][4..]);
            var (exit, stdout, stderr) = MicrosegCli.Run(api.ConfigDir, ["explain", src, dst, .. args, "--json"]);
            Assert.True(exit == 0, $"explain {src} {dst} {string.Join(' ', args)}: {stderr}");
            Assert.Equal(Json.Canonical(JsonDocument.Parse(stdout).RootElement), Json.Canonical(await api.Ok(HttpMethod.Get, $"explain?{query}")));
        }
    }

    [Theory]
    [InlineData("proto=tpc", "proto", "unknown protocol 'tpc'")]
    [InlineData("dport=22", "dport", "dport needs a protocol")]
    [InlineData("proto=icmp&dport=22", "dport", "needs a protocol with ports")]
    [InlineData("proto=tcp&dport=0", "dport", "out of range 1..65535")]
    [InlineData("proto=tcp&dport=8000-8080", "dport", "not a whole number")]
    [InlineData("proto=tcp&dport=70000", "dport", "out of range 1..65535")]
    public async Task Explain_refuses_a_bad_service_under_its_field(string query, string field, string problem)
    {
        await using var api = await ApiHost.StartAsync(Services);
        var r = await api.Get($"explain?src=web&dst=db&{query}");
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(problem, r.Error(field));
    }

    [Fact]
    public async Task A_matrix_cell_whose_verdict_depends_on_the_service_is_partial_with_its_breakdown()
    {
        await using var api = await ApiHost.StartAsync(Services);
        var cells = (await api.Ok(HttpMethod.Get, "matrix?dst=db")).GetProperty("matrix").EnumerateArray().ToDictionary(c => c.Str("src")!);
        var web = cells["web"];
        Assert.Equal(("deny", "p10-20", 1L), (web.Str("verdict"), web.Str("rule"), web.Int("partial")));
        var breakdown = web.GetProperty("per_service").EnumerateArray().Select(v => (v.Str("proto"), v.Str("dport"), v.Str("verdict"), v.Str("rule")));
        Assert.Contains(("tcp", "5432", "allow", "p10-20-tcp5432"), breakdown);
        // A pair without service rules is whole, without a breakdown.
        Assert.Equal(("allow", 0L), (cells["app"].Str("verdict"), cells["app"].Int("partial")));
        Assert.False(cells["app"].TryGetProperty("per_service", out _));
        Assert.Equal(0, cells["untagged"].Int("partial"));

        // The whole matrix is the CLI's, and a paged cell is the same cell.
        var (exit, stdout, stderr) = MicrosegCli.Run(api.ConfigDir, "matrix", "--json");
        Assert.True(exit == 0, stderr);
        Assert.Equal(Json.Canonical(JsonDocument.Parse(stdout).RootElement), Json.Canonical(await api.Ok(HttpMethod.Get, "matrix")));
        var paged = (await api.Ok(HttpMethod.Get, "matrix?src=web&dst=db&limit=1")).GetProperty("matrix")[0];
        Assert.Equal(Json.Canonical(web), Json.Canonical(paged));
    }
}
