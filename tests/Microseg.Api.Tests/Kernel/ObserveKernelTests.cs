// Counters and drops through the API, /metrics and the web UI after real packets: a lab host
// with two guests (web, db), a rule that lets db reach web and nothing back (default deny), an
// exact number of UDP datagrams each way, and then what serve, the agent's metrics listener and
// the UI in headless Chromium show. The server runs in this process, on the lab host's pins.
using System.Net;
using System.Net.Sockets;
using Microseg.Agent;
using Microseg.Lab;
using Microseg.Netlink;
using Microseg.TestSupport;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Api.Tests.Kernel;

/// <summary>A kernel test that also needs Chromium: skipped outside CI when either is missing.</summary>
public sealed class KernelBrowserFactAttribute : FactAttribute
{
    public KernelBrowserFactAttribute()
    {
        if ((KernelProbe.Failure ?? HeadlessChromium.Missing) is { } why && !KernelProbe.InCi)
            Skip = $"kernel browser test skipped: {why} (CI=true turns this skip into a failure)";
    }
}

public sealed class ObserveKernelTests
{
    private const string Policy =
        "group: web\n\tmark 10\n\tinfra 1\n\ngroup: db\n\tmark 20\n\tinfra 1\n\n" +
        "rule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n\n" +
        "assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup web\n\n" +
        "assignment: vm200i0\n\tvmid 200\n\tiface 0\n\tgroup db\n";
    private const int Allowed = 7, Denied = 5, Payload = 100;
    /// <summary>A UDP datagram of <see cref="Payload"/> bytes as the guest NIC sees it: Ethernet 14, IPv4 20, UDP 8.</summary>
    private const int FrameBytes = 14 + 20 + 8 + Payload;

    private sealed class LabFixture : IDisposable
    {
        public LabFixture()
        {
            var name = "o" + Guid.NewGuid().ToString("N")[..7];
            var guests = new List<LabGuest> { new("web1", "node1", 100, 0, "10.79.0.11/16"), new("db1", "node1", 200, 0, "10.79.0.21/16") };
            Lab = new LabRig(new LabSpec(name, Policy, [new LabHost("node1")], guests), RepoPaths.MicrosegBinary);
            if (!File.Exists(Lab.MicrosegBinary)) throw new InvalidOperationException($"{Lab.MicrosegBinary} is missing: run 'make build' first");
            Lab.Up(TextWriter.Null);
        }

        public LabRig Lab { get; }
        public LabHost Host => Lab.Spec.Hosts[0];
        public LabGuest Web => Lab.Spec.Guests[0];
        public LabGuest Db => Lab.Spec.Guests[1];
        public AgentOptions Agent => new(Lab.BpffsRoot(Host), Lab.RunDirectory(Host), Host.Name);

        /// <summary>Sends <paramref name="count"/> UDP datagrams from src to dst; returns how many arrived.</summary>
        public int Udp(LabGuest src, LabGuest dst, int count, int port)
        {
            using var receiver = NetworkNamespace.Run(Lab.Namespace(dst.Name), () =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                s.Bind(new IPEndPoint(dst.Ip, port));
                return s;
            });
            using var sender = NetworkNamespace.Run(Lab.Namespace(src.Name), () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
            for (int i = 0; i < count; i++) sender.SendTo(new byte[Payload], new IPEndPoint(dst.Ip, port));
            // At least 300 ms (for what should not arrive), up to 3 s for what should.
            int got = 0;
            var buffer = new byte[2048];
            var (least, most) = (DateTime.UtcNow.AddMilliseconds(300), DateTime.UtcNow.AddSeconds(3));
            while (DateTime.UtcNow < least || (got < count && DateTime.UtcNow < most))
            {
                while (receiver.Available > 0) { receiver.Receive(buffer); got++; }
                Thread.Sleep(50);
            }
            while (receiver.Available > 0) { receiver.Receive(buffer); got++; }
            return got;
        }

        public void Dispose() => LabRig.Down(Lab.Spec.Name);
    }

    /// <summary>The counter rows of one (kind, rule, group) in a stats answer.</summary>
    private static (long Packets, long Bytes) Row(System.Text.Json.JsonElement stats, string kind, string? rule, string group)
    {
        var rows = stats.GetProperty("rows").EnumerateArray()
            .Where(r => r.Str("kind") == kind && r.Str("rule") == rule && r.Str("group") == group).ToList();
        Assert.True(rows.Count == 1, $"{rows.Count} rows of ({kind}, {rule}, {group}) in {stats}");
        return (rows[0].Int("packets"), rows[0].Int("bytes"));
    }

    /// <summary>A scrape of /metrics and the stats read right after it, taken when stats read
    /// right before it agrees (nothing arrived in between: the guests' own IPv6 chatter after
    /// link-up, MLD reports, is counted too) and the scrape's allow and default-deny figures are
    /// those of stats; retried for up to 30 s until such a quiet moment.</summary>
    private static async Task<(IReadOnlyList<PromSample> Metrics, System.Text.Json.JsonElement Stats)> ScrapeWhenQuiet(
        Func<Task<System.Text.Json.JsonElement>> readStats, Func<Task<string>> scrape)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (int round = 0; ; round++)
        {
            var before = await readStats();
            var text = await scrape();
            PromText.AssertValid(text);
            var m = PromText.Parse(text);
            var stats = await readStats();
            var (allow, deny) = (Row(stats, "allow", "p20-10", "web"), Row(stats, "default-deny", null, "db"));
            bool quiet = (Row(before, "allow", "p20-10", "web"), Row(before, "default-deny", null, "db")) == (allow, deny);
            if (quiet && m.Value("microseg_policy_packets_total", ("node", "node1"), ("kind", "allow"), ("rule", "p20-10"), ("group", "web")) == allow.Packets
                && m.Value("microseg_policy_bytes_total", ("kind", "default-deny"), ("group", "db")) == deny.Bytes)
                return (m, stats);
            Assert.True(DateTime.UtcNow < deadline, $"the metrics never matched the stats ({round + 1} tries): {stats}\n{text}");
            await Task.Delay(500);
        }
    }

    [KernelBrowserFact]
    public async Task Counters_and_drops_after_real_packets_in_stats_metrics_and_the_ui()
    {
        using var lab = new LabFixture();
        await using var api = await ApiHost.StartAsync(null, lab.Agent, lab.Lab.ConfigDirectory);
        // The drop feed reads events from the moment it opened: wait for it before sending.
        await Until("the drop feed to run", async () => (await api.Get("drops")).Body.GetProperty("monitor").Int("running") == 1);

        // The guests' own IPv6 chatter after their links came up (MLD reports, one per address
        // they configure, repeated) is counted too: wait until both counters stay still for 3 s
        // (at most 30 s), then assert the exact figures over a round in which nothing else
        // arrived, of at most five.
        var quiet = new List<string>();
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline;)
        {
            var early = await api.Ok(HttpMethod.Get, "stats");
            await Task.Delay(3000);
            var later = await api.Ok(HttpMethod.Get, "stats");
            var (ra, rb) = ((Row(early, "allow", "p20-10", "web"), Row(early, "default-deny", null, "db")), (Row(later, "allow", "p20-10", "web"), Row(later, "default-deny", null, "db")));
            quiet.Add($"{ra} -> {rb}");
            if (ra == rb) break;
        }
        System.Text.Json.JsonElement stats = default;
        (long Packets, long Bytes) allow = default, deny = default;
        var rounds = new List<string>();
        for (int round = 0; round < 5; round++)
        {
            var before = await api.Ok(HttpMethod.Get, "stats");
            var allow0 = Row(before, "allow", "p20-10", "web");
            var deny0 = Row(before, "default-deny", null, "db");
            Assert.Equal(Allowed, lab.Udp(lab.Db, lab.Web, Allowed, 7001));   // db -> web: rule p20-10
            Assert.Equal(0, lab.Udp(lab.Web, lab.Db, Denied, 7002));           // web -> db: default deny
            stats = await api.Ok(HttpMethod.Get, "stats");
            allow = Row(stats, "allow", "p20-10", "web");
            deny = Row(stats, "default-deny", null, "db");
            rounds.Add($"allow {allow0} -> {allow}, default-deny {deny0} -> {deny}");
            if ((allow.Packets - allow0.Packets, allow.Bytes - allow0.Bytes, deny.Packets - deny0.Packets, deny.Bytes - deny0.Bytes)
                == (Allowed, Allowed * FrameBytes, Denied, Denied * FrameBytes)) break;
            Assert.True(round < 4, $"never exactly {Allowed} allowed and {Denied} denied datagrams of {FrameBytes} bytes: {string.Join("; ", rounds)} (waiting for quiet: {string.Join("; ", quiet)})");
        }
        Assert.Equal("node1", stats.Str("node"));
        var onlyWeb = await api.Ok(HttpMethod.Get, "stats?group=web");
        Assert.All(onlyWeb.GetProperty("rows").EnumerateArray(), r => Assert.Equal("web", r.Str("group")));

        // /metrics of serve: the same figures, a loaded node, the flow table's fill.
        IReadOnlyList<PromSample> m;
        (m, stats) = await ScrapeWhenQuiet(() => api.Ok(HttpMethod.Get, "stats"), async () =>
        {
            using var http = new HttpClient();
            return await http.GetStringAsync(new Uri(api.Address, "/metrics"));
        });
        (allow, deny) = (Row(stats, "allow", "p20-10", "web"), Row(stats, "default-deny", null, "db"));
        Assert.Equal(allow.Packets, m.Value("microseg_policy_packets_total", ("node", "node1"), ("kind", "allow"), ("rule", "p20-10"), ("group", "web")));
        Assert.Equal(allow.Bytes, m.Value("microseg_policy_bytes_total", ("kind", "allow"), ("rule", "p20-10"), ("group", "web")));
        Assert.Equal(deny.Packets, m.Value("microseg_policy_packets_total", ("kind", "default-deny"), ("rule", ""), ("group", "db")));
        Assert.Equal(1, m.Value("microseg_policy_loaded"));
        Assert.Equal(2, m.Value("microseg_enforced_nics"));
        Assert.True(m.Value("microseg_flow_table_entries") >= 1, "the allowed UDP flow is tracked");
        Assert.True(m.Value("microseg_flow_table_capacity_entries") > m.Value("microseg_flow_table_entries"));
        Assert.True(m.Value("microseg_verdict_map_entries") >= 1);

        // The drops: web -> db, newest first, attributed to db's default deny.
        // (Of the newest ten: a guest's own MLD report to db may be newer than the datagrams.)
        var drops = await api.Get("drops?limit=10");
        Assert.True(drops.Data.GetArrayLength() <= 10, drops.Text);
        var recent = drops.Data.EnumerateArray().Where(d => d.Str("proto") == "udp").Take(3).ToList();
        Assert.True(recent.Count == 3, drops.Text);
        foreach (var d in recent)
        {
            Assert.Equal(("web", "db", "default-deny", "drop"), (d.Str("src_group"), d.Str("dst_group"), d.Str("reason"), d.Str("verdict")));
            Assert.Equal((lab.Web.Ip.ToString(), lab.Db.Ip.ToString(), "udp", 7002L), (d.Str("src"), d.Str("dst"), d.Str("proto"), d.Int("dport")));
        }
        var times = recent.Select(d => DateTimeOffset.Parse(d.Str("time")!)).ToList();
        Assert.Equal(times.OrderDescending(), times);

        // The UI: the counters on the right cell and rule, and the drop in the recent drops view.
        using var b = new HeadlessChromium();
        b.Driver.Navigate().GoToUrl(api.Address);
        b.Until("the login form", () => b.Find("#token-input").Displayed);
        b.Find("#token-input").SendKeys(api.Reader);
        b.Find("#login-button").Click();
        b.Until("the matrix", () => b.FindAll("#matrix td.cell").Count == 3 * 2);
        var allowCell = "#matrix td.cell[data-src='db'][data-dst='web']";
        var denyCell = "#matrix td.cell[data-src='web'][data-dst='db']";
        b.Until("the counters on the cells", () => b.FindAll($"{allowCell} .count").Count == 1 && b.FindAll($"{denyCell} .count").Count == 1);
        // What the page shows is what the API says now (the page reads again every 5 s).
        await Until("the cells and the rule to show the API's figures", async () =>
        {
            var now = await api.Ok(HttpMethod.Get, "stats");
            var (a, d) = (Row(now, "allow", "p20-10", "web"), Row(now, "default-deny", null, "db"));
            return b.Find(allowCell).GetDomAttribute("data-packets") == $"{a.Packets}"
                && b.Find(denyCell).GetDomAttribute("data-packets") == $"{d.Packets}"
                && b.Find(denyCell).GetDomAttribute("data-bytes") == $"{d.Bytes}"
                && b.Find("#rule-table tr[data-rule='p20-10']").GetDomAttribute("data-packets") == $"{a.Packets}";
        });
        Assert.True(long.Parse(b.Find(allowCell).GetDomAttribute("data-packets")!) >= allow.Packets);
        Assert.StartsWith("allow", b.Find(allowCell).Text);
        Assert.Matches(@"^[\d,]+ pkt · [\d.]+ (B|KiB)$", b.Find($"{denyCell} .count").Text);
        Assert.Matches(@"^[\d,]+ pkt · [\d.]+ (B|KiB)$", b.Find("#rule-table tr[data-rule='p20-10'] td.count").Text);
        b.Screenshot("observe-counters");

        b.Find("#tabs button[data-tab='drops']").Click();
        b.Until("the recent drops", () => b.FindAll("#drops-table tbody tr[data-reason='default-deny']").Count >= Denied);
        var first = b.Find("#drops-table tbody tr");
        Assert.Contains("web → db", first.Text);
        Assert.Contains($"{lab.Db.Ip}:7002", first.Text);
        Assert.Contains("default-deny", first.Text);
        Assert.Contains("Watching this host's verdict events", b.Find("#drops-status").Text);
        b.Screenshot("observe-drops");

        // One more denied datagram shows up without touching the page (it polls).
        Assert.Equal(0, lab.Udp(lab.Web, lab.Db, 1, 7003));
        b.Until("the new drop", () => b.Find("#drops-table tbody tr").Text.Contains($"{lab.Db.Ip}:7003"), 10);
    }

    [KernelFact]
    public async Task Agent_metrics_listener_shows_the_counters_and_its_applies()
    {
        using var lab = new LabFixture();
        var port = 20_000 + Random.Shared.Next(20_000);
        using var agent = new AgentWithMetrics(lab.Lab, lab.Host, port);
        agent.WaitForLog("applied snapshot version");
        Assert.Equal(Allowed, lab.Udp(lab.Db, lab.Web, Allowed, 7011));
        Assert.Equal(0, lab.Udp(lab.Web, lab.Db, Denied, 7012));

        var (m, stats) = await ScrapeWhenQuiet(
            () => Task.FromResult(System.Text.Json.JsonDocument.Parse(lab.Lab.Microseg(lab.Host, "stats", "--json")).RootElement),
            () => Task.FromResult(agent.Scrape()));
        Assert.True(Row(stats, "allow", "p20-10", "web").Packets >= Allowed && Row(stats, "default-deny", null, "db").Packets >= Denied, stats.ToString());
        // The agent's own start-up apply: one full apply, no failure, version 1 enforced.
        Assert.Equal(1, m.Value("microseg_apply_duration_seconds_count", ("kind", "full")));
        Assert.Equal(0, m.Value("microseg_apply_failures_total", ("kind", "full")));
        Assert.Equal(lab.Lab.Store.ReadRunning()!.Version, m.Value("microseg_enforced_config_version"));
        Assert.Equal(1, m.Value("microseg_policy_loaded"));
    }

    private static async Task Until(string what, Func<Task<bool>> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited {seconds} s for {what}");
            await Task.Delay(100);
        }
    }
}

/// <summary>`microseg agent --metrics 127.0.0.1:PORT` in the lab host's namespace; scraped from
/// inside that namespace with curl (the listener is on that namespace's loopback).</summary>
internal sealed class AgentWithMetrics : IDisposable
{
    private readonly System.Diagnostics.Process process;
    private readonly List<string> lines = [];
    private readonly string ns;
    private readonly int port;

    public AgentWithMetrics(LabRig lab, LabHost host, int port)
    {
        ns = lab.Namespace(host.Name);
        this.port = port;
        var psi = new System.Diagnostics.ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, lab.MicrosegBinary, "agent", "--config-dir", lab.ConfigDirectory,
                     "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name, "--metrics", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("WATCHDOG_USEC");
        process = System.Diagnostics.Process.Start(psi)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    public string Log { get { lock (lines) return string.Join('\n', lines); } }

    public void WaitForLog(string contains, int seconds = 60)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!Log.Contains(contains, StringComparison.Ordinal) && !process.HasExited && DateTime.UtcNow < until) Thread.Sleep(20);
        Assert.True(Log.Contains(contains, StringComparison.Ordinal), $"the agent did not log '{contains}':\n{Log}");
    }

    public string Scrape()
    {
        var r = Shell.Run("ip", "netns", "exec", ns, "curl", "-sS", "--max-time", "10", $"http://127.0.0.1:{port}/metrics");
        Assert.True(r.ExitCode == 0, $"curl: {r.Stderr}\nagent log:\n{Log}");
        return r.Stdout;
    }

    public void Dispose()
    {
        try { if (!process.HasExited) process.Kill(); process.WaitForExit(); }
        catch (InvalidOperationException) { }
        process.Dispose();
    }
}
