// Every endpoint × every kind of caller: no token and a wrong secret get 401; SDN.Audit reads
// and nothing else; SDN.Allocate writes and nothing else; both privileges do everything.
using System.Net;

namespace Microseg.Api.Tests;

public sealed class AuthMatrixFixture : IAsyncLifetime
{
    public ApiHost Api { get; private set; } = null!;

    public async Task InitializeAsync() => Api = await ApiHost.StartAsync(
        "group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n\nrule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n");

    public async Task DisposeAsync() => await Api.DisposeAsync();
}

public sealed class AuthMatrixTests(AuthMatrixFixture fixture) : IClassFixture<AuthMatrixFixture>
{
    private static int unique;

    private static string Fresh(string prefix) => $"{prefix}{Interlocked.Increment(ref unique)}";

    /// <summary>One endpoint: whether it writes, and how to make a request to it that succeeds
    /// for a caller with the privilege (objects it needs are made first by the admin token).</summary>
    private sealed record Endpoint(string Name, bool Writes, Func<ApiHost, Task<(HttpMethod Method, string Path, object? Body)>> Request);

    private static readonly Dictionary<string, Endpoint> Endpoints = Build().ToDictionary(e => e.Name);

    private static IEnumerable<Endpoint> Build()
    {
        yield return new("GET index", false, _ => Req(HttpMethod.Get, ""));
        foreach (var type in new[] { "group", "rule", "assignment", "bridge", "forwarder" })
        {
            yield return new($"GET {type}", false, _ => Req(HttpMethod.Get, type));
            yield return new($"POST {type}", true, async api => (HttpMethod.Post, type, await NewBody(api, type)));
            yield return new($"GET {type}/id", false, async api => (HttpMethod.Get, $"{type}/{await Make(api, type)}", null));
            yield return new($"PUT {type}/id", true, async api => (HttpMethod.Put, $"{type}/{await Make(api, type)}", UpdateBody(type)));
            yield return new($"DELETE {type}/id", true, async api => (HttpMethod.Delete, $"{type}/{await Make(api, type)}", null));
        }
        yield return new("GET pending", false, _ => Req(HttpMethod.Get, "pending"));
        yield return new("POST commit", true, _ => Req(HttpMethod.Post, "commit"));
        yield return new("GET explain", false, _ => Req(HttpMethod.Get, "explain?src=db&dst=web"));
        yield return new("GET matrix", false, _ => Req(HttpMethod.Get, "matrix"));
        yield return new("GET status", false, _ => Req(HttpMethod.Get, "status"));
        yield return new("GET nodes", false, _ => Req(HttpMethod.Get, "nodes"));
        yield return new("GET stats", false, _ => Req(HttpMethod.Get, "stats"));
        yield return new("GET drops", false, _ => Req(HttpMethod.Get, "drops"));
    }

    private static Task<(HttpMethod, string, object?)> Req(HttpMethod method, string path) => Task.FromResult<(HttpMethod, string, object?)>((method, path, null));

    private static async Task<object> NewBody(ApiHost api, string type) => type switch
    {
        "group" => new { id = Fresh("g") },
        "rule" => await RulePair(api),
        "assignment" => new { vmid = 1000 + Interlocked.Increment(ref unique), iface = 0, group = "web" },
        "bridge" => new { id = Fresh("br") },
        _ => new { id = Fresh("fw"), router = Fresh("r"), physical = Fresh("p") },
    };

    private static async Task<object> RulePair(ApiHost api)
    {
        var src = (await api.Ok(HttpMethod.Post, "group", new { id = Fresh("s") })).Str("id");
        return new { src, dst = "web", action = "allow" };
    }

    private static object UpdateBody(string type) => type switch
    {
        "group" => new { comment = "changed" },
        "rule" => new { action = "deny" },
        "assignment" => new { group = "db" },
        "bridge" => new { nodes = "node1" },
        _ => new { mode = "native" },
    };

    /// <summary>Creates an object of the type with the admin token; returns its id.</summary>
    private static async Task<string> Make(ApiHost api, string type) =>
        (await api.Ok(HttpMethod.Post, type, await NewBody(api, type))).Str("id")!;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in Endpoints.Keys)
            foreach (var caller in new[] { "none", "wrong-secret", "audit", "allocate", "both" })
                data.Add(name, caller);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Endpoint_answers_exactly_as_the_caller_is_allowed(string endpoint, string caller)
    {
        var api = fixture.Api;
        var e = Endpoints[endpoint];
        var (method, path, body) = await e.Request(api);
        var token = caller switch
        {
            "none" => "",
            "wrong-secret" => api.Admin[..api.Admin.IndexOf('=')] + "=00000000-0000-4000-8000-000000000000",
            "audit" => api.Reader,
            "allocate" => api.Writer,
            _ => api.Admin,
        };
        var expected = caller switch
        {
            "none" or "wrong-secret" => HttpStatusCode.Unauthorized,
            "audit" => e.Writes ? HttpStatusCode.Forbidden : HttpStatusCode.OK,
            "allocate" => e.Writes ? HttpStatusCode.OK : HttpStatusCode.Forbidden,
            _ => HttpStatusCode.OK,
        };
        // The fixture's host has no programs loaded: an authorized stats read gets as far as the
        // kernel and says there are no counters.
        if (endpoint == "GET stats" && expected == HttpStatusCode.OK) expected = HttpStatusCode.InternalServerError;
        var response = await api.Send(method, path, body, token);
        Assert.True(expected == response.Status, $"{endpoint} as {caller}: expected {(int)expected}, got {response}");
        if (expected == HttpStatusCode.InternalServerError) Assert.StartsWith("counters of testnode: ", response.Body.Str("message"));
        else if (expected != HttpStatusCode.OK) Assert.Contains(caller is "audit" or "allocate" ? "lacks SDN." : "authentic", response.Body.Str("message"));
    }

    [Fact]
    public void The_matrix_covers_every_route_the_server_has()
    {
        var routes = fixture.Api.Server.Routes.Select(r =>
        {
            var path = r.Pattern == "/" + ApiHost.Base ? "index" : r.Pattern[(ApiHost.Base.Length + 2)..].Replace("{id}", "id");
            return $"{r.Method} {path}";
        });
        Assert.Equal(Endpoints.Keys.Order(StringComparer.Ordinal), routes.Order(StringComparer.Ordinal));
        Assert.All(fixture.Api.Server.Routes, r => Assert.Equal(r.Method == "GET" ? Microseg.Api.Auth.Privilege.Audit : Microseg.Api.Auth.Privilege.Allocate, r.Privilege));
    }

    [Fact]
    public async Task Malformed_authorization_headers_are_unauthorized()
    {
        var api = fixture.Api;
        var secret = api.Admin[(api.Admin.IndexOf('=') + 1)..];
        foreach (var header in new[]
        {
            "Bearer abc", "PVEAPIToken", "PVEAPIToken=", "PVEAPIToken=root@pam!admin", "PVEAPIToken=root@pam!admin=",
            $"PVEAPIToken=root@pam!nosuch={secret}", $"PVEAPIToken root@pam!admin={secret}", $"pveapitoken=root@pam!admin={secret}",
        })
        {
            using var http = new HttpClient { BaseAddress = api.Address };
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{ApiHost.Base}/status");
            request.Headers.TryAddWithoutValidation("Authorization", header);
            using var response = await http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"'{header}': {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task The_web_ui_itself_needs_no_token()
    {
        using var http = new HttpClient { BaseAddress = fixture.Api.Address };
        foreach (var path in new[] { "/", "/index.html", "/app.js", "/app.css" })
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, path);
            Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
        }
    }
}
