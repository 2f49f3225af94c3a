// GET .../stats and .../drops without the kernel: Proxmox-shaped errors and parameters.
using System.Net;

namespace Microseg.Api.Tests;

public sealed class ObserveApiTests
{
    [Fact]
    public async Task Stats_and_drops_need_sdn_audit()
    {
        await using var api = await ApiHost.StartAsync();
        foreach (var path in new[] { "stats", "drops" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await api.Send(HttpMethod.Get, path, null, "")).Status);
            Assert.Equal(HttpStatusCode.Forbidden, (await api.Get(path, api.Writer)).Status);
        }
    }

    [Fact]
    public async Task Stats_where_nothing_is_loaded_is_an_error_naming_the_node()
    {
        await using var api = await ApiHost.StartAsync();
        var r = await api.Get("stats", api.Reader);
        Assert.Equal(HttpStatusCode.InternalServerError, r.Status);
        Assert.StartsWith("counters of testnode: ", r.Body.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Drops_without_events_say_why_and_limits_are_checked()
    {
        await using var api = await ApiHost.StartAsync();
        var r = await api.Get("drops", api.Reader);
        Assert.Equal(HttpStatusCode.OK, r.Status);
        Assert.Equal(0, r.Data.GetArrayLength());
        var monitor = r.Body.GetProperty("monitor");
        Assert.Equal(0, monitor.Int("running"));
        // Nobody had asked before: the server was not reading (a `microseg monitor` could have);
        // this request starts it, and the next answers say why nothing can be read here.
        Assert.Contains("nobody has asked for drops", monitor.Str("error"));
        string? error = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            error = (await api.Get("drops", api.Reader)).Body.GetProperty("monitor").Str("error");
            if (error?.Contains("cannot be read", StringComparison.Ordinal) == true) break;
        }
        Assert.Contains("cannot be read", error);

        var zero = await api.Get("drops?limit=0", api.Reader);
        Assert.Equal(HttpStatusCode.BadRequest, zero.Status);
        Assert.Equal("must be 1 to 1000 (it is 0)", zero.Error("limit"));
        var unknown = await api.Get("drops?since=1", api.Reader);
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        Assert.NotNull(unknown.Error("since"));
        var group = await api.Get("stats?group=", api.Reader);
        Assert.NotEqual(HttpStatusCode.BadRequest, group.Status);
        var bad = await api.Get("stats?nic=x", api.Reader);
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
    }
}
