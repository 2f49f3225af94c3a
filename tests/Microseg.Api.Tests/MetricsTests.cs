// /metrics of `microseg serve` and of the agent's metrics listener, without the kernel: the
// document passes promtool, needs no token, and the apply figures follow the applies.
using System.Net;
using Microseg.Agent;
using Microseg.Agent.Resident;
using Microseg.Api.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microseg.Api.Tests;

public sealed class MetricsTests
{
    private static async Task<(HttpStatusCode Status, string Type, string Text)> Scrape(Uri url)
    {
        using var http = new HttpClient();
        using var r = await http.GetAsync(url);
        return (r.StatusCode, r.Content.Headers.ContentType?.ToString() ?? "", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Serve_metrics_need_no_token_pass_promtool_and_count_a_failed_apply()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n");
        var before = await Scrape(new Uri(api.Address, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, before.Status);
        Assert.StartsWith("text/plain; version=0.0.4", before.Type);
        PromText.AssertValid(before.Text);
        var s0 = PromText.Parse(before.Text);
        // Nothing loaded (the test's bpffs cannot exist): the node says so, with no counters.
        Assert.Equal(0, s0.Value("microseg_policy_loaded", ("node", "testnode")));
        Assert.Equal(0, s0.Value("microseg_apply_failures_total", ("node", "testnode"), ("kind", "full")));
        Assert.Equal(0, s0.Value("microseg_enforced_config_version", ("node", "testnode")));
        Assert.DoesNotContain(s0, s => s.Name == "microseg_policy_packets_total");
        Assert.All(s0, s => Assert.Equal("testnode", s.Labels["node"]));

        var commit = await api.Ok(HttpMethod.Post, "commit");
        Assert.False(commit.GetProperty("apply").GetProperty("ok").GetBoolean());
        var after = await Scrape(new Uri(api.Address, "/metrics"));
        PromText.AssertValid(after.Text);
        var s1 = PromText.Parse(after.Text);
        Assert.Equal(1, s1.Value("microseg_apply_failures_total", ("kind", "full")));
        Assert.Equal(1, s1.Value("microseg_apply_duration_seconds_count", ("kind", "full")));
        Assert.Equal(0, s1.Value("microseg_apply_duration_seconds_count", ("kind", "plug")));
        Assert.Equal(0, s1.Value("microseg_enforced_config_version")); // version 1 failed: none enforced
    }

    [Fact]
    public async Task Agent_metrics_listener_serves_only_metrics_with_the_applies_it_was_told()
    {
        using var dir = new Microseg.TestSupport.TempDirectory("microseg-metrics-test-");
        var blocker = Path.Combine(dir.Path, "not-a-directory");
        File.WriteAllText(blocker, "");
        var metrics = new NodeMetrics(new AgentOptions(Path.Combine(blocker, "bpffs"), Path.Combine(dir.Path, "run"), "pve7"), NullLoggerFactory.Instance);
        await using var server = await MetricsServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), metrics);
        metrics.Applied(ApplyKind.Full, TimeSpan.FromMilliseconds(30), failed: false, 4);
        metrics.Applied(ApplyKind.Plug, TimeSpan.FromMilliseconds(2), failed: false, 4);
        metrics.Applied(ApplyKind.Plug, TimeSpan.FromMilliseconds(3), failed: true, 4);
        metrics.Applied(ApplyKind.Full, TimeSpan.FromMilliseconds(40), failed: true, 4); // an invalid v5: 4 stays

        var scrape = await Scrape(server.Address);
        Assert.Equal(HttpStatusCode.OK, scrape.Status);
        PromText.AssertValid(scrape.Text);
        var s = PromText.Parse(scrape.Text);
        Assert.Equal(4, s.Value("microseg_enforced_config_version", ("node", "pve7")));
        Assert.Equal(2, s.Value("microseg_apply_duration_seconds_count", ("kind", "plug")));
        Assert.Equal(0.07, s.Value("microseg_apply_duration_seconds_sum", ("kind", "full"))!.Value, 6);
        Assert.Equal(1, s.Value("microseg_apply_failures_total", ("kind", "plug")));
        Assert.Equal(1, s.Value("microseg_apply_failures_total", ("kind", "full")));
        // Buckets are cumulative: 30 ms is within le=0.032, 40 ms only from le=0.064 on.
        Assert.Equal(1, s.Value("microseg_apply_duration_seconds_bucket", ("kind", "full"), ("le", "0.032")));
        Assert.Equal(2, s.Value("microseg_apply_duration_seconds_bucket", ("kind", "full"), ("le", "0.064")));

        var other = await Scrape(new Uri(server.Address, "/api2/json"));
        Assert.Equal(HttpStatusCode.NotFound, other.Status);
    }

    [Theory]
    [InlineData("9617", "127.0.0.1:9617")]
    [InlineData("0.0.0.0:9100", "0.0.0.0:9100")]
    [InlineData("[::1]:9617", "[::1]:9617")]
    [InlineData("localhost:80", "127.0.0.1:80")]
    public void Metrics_address_is_a_port_on_loopback_or_an_address_and_port(string given, string listen) =>
        Assert.Equal(listen, MetricsServer.ParseListen(given).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("metrics")]
    [InlineData("70000")]
    [InlineData("10.0.0.1")]
    public void Metrics_address_that_is_not_one_is_refused_naming_the_option(string given)
    {
        var e = Assert.Throws<ArgumentException>(() => MetricsServer.ParseListen(given));
        Assert.StartsWith($"--metrics '{given}' is not PORT or ADDRESS:PORT", e.Message);
    }
}
