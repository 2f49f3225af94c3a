// GET .../microseg/nodes on a server whose store is etcd: the committed version and each node's
// report, as `status --cluster --json`; on the config directory no nodes and a summary that says
// what is needed; with etcd gone a 503 naming the store. Tokens are in etcd too: the server authenticates against them.
using System.Net;
using System.Text.Json;
using Microseg.Agent;
using Microseg.Agent.Resident;
using Microseg.Api;
using Microseg.Api.Auth;
using Microseg.Lab;
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Etcd.Tests;

public sealed class ClusterNodesApiTests
{
    private const string Nodes = "api2/json/cluster/sdn/microseg/nodes";

    private static async Task<(HttpStatusCode Status, JsonElement Body)> Get(ApiServer server, string secret)
    {
        using var http = new HttpClient { BaseAddress = server.Address };
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"PVEAPIToken=root@pam!t={secret}");
        using var response = await http.GetAsync(Nodes);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static Task<ApiServer> Serve(IConfigStore store, string dir) =>
        ApiServer.StartAsync(new ApiServerOptions(dir, new IPEndPoint(IPAddress.Loopback, 0),
            new AgentOptions(Path.Combine(dir, "no-bpffs"), Path.Combine(dir, "run"), "api"), Store: store));

    [EtcdFact]
    public async Task Nodes_shows_each_nodes_version_and_who_lags_and_503_when_etcd_is_gone()
    {
        using var dir = new TempDirectory();
        using var etcd = new LabEtcd(1);
        using var store = etcd.Store(callTimeout: TimeSpan.FromSeconds(2));
        var secret = new TokenStore(store).Add("root@pam!t", new HashSet<Privilege> { Privilege.Audit });
        store.EditPending(c => c.Put(new Group("web", 1)));
        store.Commit();
        store.EditPending(c => c.Put(new Group("db", 2)));
        store.Commit();
        using (var a = store.NodeStatusSink("nodea"))
        using (var b = store.NodeStatusSink("nodeb"))
        {
            a.Report(new NodeStatus("nodea", 2, 2, null, DateTimeOffset.UtcNow));
            b.Report(new NodeStatus("nodeb", 1, 2, "version 2 is invalid, not applied: x", DateTimeOffset.UtcNow));
            await EtcdConfigStoreTests.Eventually(() => store.ReadNodes(), n => n.Count == 2);
        }
        await using var server = await Serve(store, dir.Path);
        var (status, body) = await Get(server, secret);
        Assert.Equal(HttpStatusCode.OK, status);
        var data = body.GetProperty("data");
        Assert.Equal(2, data.GetProperty("committed").GetInt64());
        Assert.Equal("1/2 nodes at version 2", data.GetProperty("summary").GetString());
        Assert.Equal(0, data.GetProperty("converged").GetInt32());
        var nodeb = data.GetProperty("nodes")[1];
        Assert.Equal("nodeb", nodeb.GetProperty("node").GetString());
        Assert.Equal(1, nodeb.GetProperty("lagging").GetInt32());
        Assert.StartsWith("version 2 is invalid", nodeb.GetProperty("error").GetString());

        // Tokens are cached by revision; with etcd gone, the server says the store is unavailable.
        etcd.KillAll();
        var (gone, error) = await Get(server, secret);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, gone);
        Assert.Contains("etcd unreachable", error.GetRawText());
    }

    [Fact]
    public async Task Nodes_on_the_config_directory_lists_none_and_says_what_is_needed()
    {
        using var dir = new TempDirectory();
        var store = new DirectoryConfigStore(dir.Path);
        var secret = new TokenStore(store).Add("root@pam!t", new HashSet<Privilege> { Privilege.Audit });
        await using var server = await Serve(store, dir.Path);
        var (status, body) = await Get(server, secret);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body.GetProperty("data").GetProperty("node_records").GetInt32());
        Assert.Equal(0, body.GetProperty("data").GetProperty("nodes").GetArrayLength());
        Assert.Contains("--store etcd://", body.GetProperty("data").GetProperty("summary").GetString());
    }
}
