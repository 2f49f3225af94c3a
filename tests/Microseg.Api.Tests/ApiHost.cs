// A running API server for one test (or one test class): Kestrel on 127.0.0.1 with a free
// port, a temporary config directory, and tokens of each privilege. Its agent's bpffs root lies
// beneath a regular file, so a commit's apply fails the same way with or without root and never
// touches the kernel; the kernel test gives it a real bpffs instead.
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microseg.Agent;
using Microseg.Api;
using Microseg.Api.Auth;
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Api.Tests;

public sealed record ApiResponse(HttpStatusCode Status, JsonElement Body, string Text)
{
    public JsonElement Data => Body.GetProperty("data");

    public string? Error(string field) =>
        Body.TryGetProperty("errors", out var e) && e.TryGetProperty(field, out var m) ? m.GetString() : null;

    public override string ToString() => $"{(int)Status} {Text}";
}

public sealed class ApiHost : IAsyncDisposable
{
    public const string Base = "api2/json/cluster/sdn/microseg";

    private readonly TempDirectory dir;
    private readonly HttpClient http;

    private ApiHost(TempDirectory dir, ApiServer server, HttpClient http, string configDir, AgentOptions agent)
    {
        this.dir = dir;
        Server = server;
        this.http = http;
        ConfigDir = configDir;
        Agent = agent;
    }

    /// <summary>The test's own directory (the config directory is its "config").</summary>
    public string Root => dir.Path;

    public ApiServer Server { get; }
    public string ConfigDir { get; }
    public AgentOptions Agent { get; }
    public Uri Address => Server.Address;
    public DirectoryConfigStore Store => new(ConfigDir);

    /// <summary>Tokens: Admin has both privileges; Reader only SDN.Audit; Writer only SDN.Allocate.</summary>
    public string Admin { get; private set; } = "";
    public string Reader { get; private set; } = "";
    public string Writer { get; private set; } = "";

    public string PendingPath => Path.Combine(ConfigDir, DirectoryConfigStore.PendingFileName);
    public string RunningPath => Path.Combine(ConfigDir, DirectoryConfigStore.RunningFileName);
    public string PendingDigest => Store.ReadPending().Digest;

    public static Task<ApiHost> StartAsync(string? pending = null) => StartAsync(pending, null);

    /// <param name="configDir">An existing config directory to serve (a lab's); null: a new one.</param>
    public static async Task<ApiHost> StartAsync(string? pending, AgentOptions? agent, string? configDir = null)
    {
        var dir = new TempDirectory("microseg-api-test-");
        configDir ??= Path.Combine(dir.Path, "config");
        Directory.CreateDirectory(configDir);
        if (pending is not null) File.WriteAllText(Path.Combine(configDir, DirectoryConfigStore.PendingFileName), pending);
        if (agent is null)
        {
            var blocker = Path.Combine(dir.Path, "not-a-directory");
            File.WriteAllText(blocker, "");
            agent = new AgentOptions(Path.Combine(blocker, "bpffs"), Path.Combine(dir.Path, "run"), "testnode");
        }
        var server = await ApiServer.StartAsync(new ApiServerOptions(configDir, new IPEndPoint(IPAddress.Loopback, 0), agent));
        var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        var host = new ApiHost(dir, server, http, configDir, agent);
        var tokens = server.Tokens;
        host.Admin = $"root@pam!admin={tokens.Add("root@pam!admin", new HashSet<Privilege> { Privilege.Audit, Privilege.Allocate })}";
        host.Reader = $"audit@pve!ro={tokens.Add("audit@pve!ro", new HashSet<Privilege> { Privilege.Audit })}";
        host.Writer = $"alloc@pve!wo={tokens.Add("alloc@pve!wo", new HashSet<Privilege> { Privilege.Allocate })}";
        return host;
    }

    public Task<ApiResponse> Get(string path, string? token = null) => Send(HttpMethod.Get, path, null, token ?? Admin);

    public Task<ApiResponse> Post(string path, object? body = null, string? token = null) => Send(HttpMethod.Post, path, body, token ?? Admin);

    public Task<ApiResponse> Put(string path, object? body = null, string? token = null) => Send(HttpMethod.Put, path, body, token ?? Admin);

    public Task<ApiResponse> Delete(string path, object? body = null, string? token = null) => Send(HttpMethod.Delete, path, body, token ?? Admin);

    /// <summary>One request under the API base path; token "" sends no Authorization header.</summary>
    public async Task<ApiResponse> Send(HttpMethod method, string path, object? body, string token)
    {
        using var request = new HttpRequestMessage(method, path.StartsWith('/') ? path : $"{Base}/{path}");
        if (token.Length > 0) request.Headers.TryAddWithoutValidation("Authorization", $"PVEAPIToken={token}");
        if (body is not null)
            request.Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonElement json = default;
        if (response.Content.Headers.ContentType?.MediaType == "application/json")
            json = JsonDocument.Parse(text).RootElement.Clone();
        return new ApiResponse(response.StatusCode, json, text);
    }

    /// <summary>A request that must succeed with 200; returns its data.</summary>
    public async Task<JsonElement> Ok(HttpMethod method, string path, object? body = null)
    {
        var r = await Send(method, path, body, Admin);
        Assert.True(r.Status == HttpStatusCode.OK, $"{method} {path}: {r}");
        return r.Data;
    }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await Server.DisposeAsync();
        dir.Dispose();
    }
}

/// <summary>The `microseg` CLI in this process, as the tests compare the API with it.</summary>
public static class MicrosegCli
{
    public static (int Exit, string Out, string Err) Run(string configDir, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = Microseg.Cli.Program.Run([.. args, "--config-dir", configDir], stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}

public static class Json
{
    public static string? Str(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    public static long Int(this JsonElement e, string name) => e.GetProperty(name).GetInt64();

    /// <summary>Compact, key-ordered text of a JSON value, for comparing two documents.</summary>
    public static string Canonical(JsonElement e)
    {
        var sb = new StringBuilder();
        Write(e, sb);
        return sb.ToString();

        static void Write(JsonElement e, StringBuilder sb)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    sb.Append('{');
                    var first = true;
                    foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                    {
                        if (!first) sb.Append(',');
                        first = false;
                        sb.Append(JsonSerializer.Serialize(p.Name)).Append(':');
                        Write(p.Value, sb);
                    }
                    sb.Append('}');
                    break;
                case JsonValueKind.Array:
                    sb.Append('[');
                    var i = 0;
                    foreach (var item in e.EnumerateArray())
                    {
                        if (i++ > 0) sb.Append(',');
                        Write(item, sb);
                    }
                    sb.Append(']');
                    break;
                default:
                    sb.Append(e.GetRawText());
                    break;
            }
        }
    }
}
