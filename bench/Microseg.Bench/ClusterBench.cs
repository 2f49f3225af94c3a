// The etcd store at work.
//   cluster        three lab hosts over VXLAN-GBP, a 3-member etcd cluster on their underlay
//                  addresses, a resident agent each (root): 50 commits, each from one node in
//                  turn; the time from the commit's return to the third agent logging that it
//                  applied the version (p50/p99), against the commit's own time
//   cluster-scale  one etcd member on localhost and N dry-run agents (default 200; no kernel),
//                  each with its own connection as separate hosts have: commit to all agents
//                  planned, commit to all node records in etcd, and etcd's gRPC bytes per
//                  commit, against one agent measured the same way
using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text.RegularExpressions;
using Microseg.Agent.Resident;
using Microseg.Etcd;
using Microseg.Lab;
using Microseg.Policy;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microseg.Bench;

public static partial class ClusterBench
{
    public static Task Lab(Report report)
    {
        const int commits = 50;
        using var cluster = new LabCluster(Paths.Microseg);
        cluster.WaitAllApplied(1, seconds: 120);
        // The moment etcd has a version: when a plain etcdctl watch on nodea hears of it (its
        // lines reach us as the agents' do).
        var heard = new Dictionary<long, DateTime>();
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", cluster.Lab.Namespace("nodea"), "etcdctl", "--endpoints=" + string.Join(',', cluster.Etcd.ClientUrls), "watch", "/microseg/running" })
            psi.ArgumentList.Add(a);
        psi.Environment["ETCDCTL_API"] = "3";
        using var watcher = Process.Start(psi)!;
        watcher.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null || VersionLine().Match(e.Data) is not { Success: true } m) return;
            lock (heard) heard.TryAdd(long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), DateTime.UtcNow);
        };
        watcher.BeginOutputReadLine();
        Thread.Sleep(500);
        var converge = new List<double>();
        var commitTimes = new List<double>();
        for (var i = 0; i < commits; i++)
        {
            var node = LabCluster.Nodes[i % 3];
            var version = i + 2;
            var edit = i % 2 == 0
                ? cluster.Microseg(node, "rule", "add", "--src", "app", "--dst", "db", "--action", "allow")
                : cluster.Microseg(node, "rule", "del", "p30-20");
            if (edit.ExitCode != 0) throw new LabException($"edit on {node}: {edit.Stderr}");
            var start = Stopwatch.StartNew();
            var commit = cluster.Microseg(node, "commit");
            commitTimes.Add(start.Elapsed.TotalMilliseconds);
            if (commit.ExitCode != 0 || !commit.Stdout.Contains($"committed version {version} ", StringComparison.Ordinal))
                throw new LabException($"commit on {node}: {commit.Stderr}{commit.Stdout}");
            cluster.WaitAllApplied(version);
            var last = Enumerable.Range(0, cluster.Count).Max(n => cluster.Agent(n).FirstAt($"applied snapshot version {version}:")!.Value);
            DateTime committedAt;
            lock (heard) committedAt = heard.TryGetValue(version, out var at) ? at : throw new LabException($"etcdctl watch did not report version {version}");
            converge.Add((last - committedAt).TotalMilliseconds);
        }
        watcher.Kill();
        report.Line($"{commits} commits on a 3-host lab (VXLAN-GBP) with a 3-member etcd cluster, one commit at a time from each node in turn; " +
                    "convergence = from an `etcdctl watch` on nodea printing the new snapshot to the third agent's 'applied snapshot version N' line " +
                    "(watch delivery and a full apply: policy and carrier).");
        report.Line();
        report.Line("| measure | p50 ms | p99 ms | max ms |");
        report.Line("|---|---:|---:|---:|");
        report.Line(Row("etcd has the version → all 3 nodes enforcing", converge));
        report.Line(Row("`microseg commit` itself (baseline)", commitTimes));
        report.Line();
        report.Line($"convergence p50 = {Percentile(converge, 50) / Percentile(commitTimes, 50):0.00}× the commit command's own time");
        return Task.CompletedTask;
    }

    public static async Task Scale(Report report)
    {
        var agents = int.TryParse(Environment.GetEnvironmentVariable("BENCH_AGENTS"), out var n) && n > 0 ? n : 200;
        using var etcd = new LabEtcd(1);
        report.Line($"One etcd member (localhost); dry-run agents (plan, no kernel) in one process, each with its own etcd connection, " +
                    "watch and lease-bound node record; 10 commits each; times from the commit's return.");
        report.Line();
        report.Line("| agents | commit → all planned p50 ms | max ms | commit → all node records p50 ms | max ms | etcd gRPC KiB sent per commit | received |");
        report.Line("|---:|---:|---:|---:|---:|---:|---:|");
        double? baseline = null;
        foreach (var count in new[] { 1, agents })
        {
            var prefix = $"/bench{count}/";
            var (planned, recorded, sent, received) = await Run(etcd, prefix, count, commits: 10);
            // One agent's own plan lands before the commit returns; its node record is the baseline.
            baseline ??= Percentile(recorded, 50);
            report.Line(string.Create(CultureInfo.InvariantCulture,
                $"| {count} | {Percentile(planned, 50):0} | {planned.Max():0} | {Percentile(recorded, 50):0} | {recorded.Max():0} | {sent / 1024:0.0} | {received / 1024:0.0} |"));
            if (count == agents) report.Line($"\n{agents} agents: commit → all node records p50 = {Percentile(recorded, 50) / baseline:0.0}× one agent's");
        }
    }

    private static async Task<(List<double> Planned, List<double> Recorded, double Sent, double Received)> Run(LabEtcd etcd, string prefix, int count, int commits)
    {
        EtcdConfigStore Store() => new(EtcdStoreOptions.Parse(etcd.Url, _ => null) with { Prefix = prefix }) { NodeLeaseTtl = TimeSpan.FromSeconds(30) };
        using var editor = Store();
        editor.EditPending(c => c.Put(new Microseg.Policy.Group("web", 1)));
        editor.Commit();
        var stores = Enumerable.Range(0, count).Select(_ => Store()).ToList();
        var sinks = stores.Select((s, i) => s.NodeStatusSink($"node{i}")).ToList();
        var dry = stores.Select((s, i) => new DryRunAgent($"node{i}", s, new NoInterfaces(), sinks[i], NullLogger.Instance)).ToList();
        using var stop = new CancellationTokenSource();
        var running = dry.Select(a => Task.Run(() => a.RunAsync(stop.Token))).ToList();
        await WaitFor(() => dry.All(a => a.Version == 1), TimeSpan.FromMinutes(2));
        await WaitFor(() => editor.ReadNodes().Count(r => r.Version == 1) == count, TimeSpan.FromMinutes(2));

        var planned = new List<double>();
        var recorded = new List<double>();
        var (sent0, received0) = await Traffic(etcd);
        for (var i = 0; i < commits; i++)
        {
            editor.EditPending(c => c.Put(new Microseg.Policy.Group($"g{i}", (ushort)(10 + i))));
            var version = editor.Commit().Snapshot.Version;
            var clock = Stopwatch.StartNew();
            await WaitFor(() => dry.All(a => a.Version == version), TimeSpan.FromMinutes(2));
            planned.Add(clock.Elapsed.TotalMilliseconds);
            await WaitFor(() => editor.ReadNodes().Count(r => r.Version == version) == count, TimeSpan.FromMinutes(2));
            recorded.Add(clock.Elapsed.TotalMilliseconds);
        }
        var (sent1, received1) = await Traffic(etcd);
        stop.Cancel();
        await Task.WhenAll(running);
        foreach (var s in sinks) s.Dispose();
        foreach (var s in stores) s.Dispose();
        // The node reads of the bench itself are part of the traffic; they are small next to the watches.
        return (planned, recorded, (sent1 - sent0) / commits, (received1 - received0) / commits);
    }

    private static async Task WaitFor(Func<bool> done, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        while (!done())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("not converged in time");
            await Task.Delay(2);
        }
    }

    /// <summary>etcd's gRPC bytes sent and received so far, from its /metrics.</summary>
    private static async Task<(double Sent, double Received)> Traffic(LabEtcd etcd)
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(etcd.ClientUrls[0] + "/metrics");
        return (Metric(text, "etcd_network_client_grpc_sent_bytes_total"), Metric(text, "etcd_network_client_grpc_received_bytes_total"));
    }

    private static double Metric(string text, string name) =>
        Regex.Match(text, $"^{name} (\\S+)$", RegexOptions.Multiline) is { Success: true } m
            ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;

    [GeneratedRegex("\"version\": (\\d+),")]
    private static partial Regex VersionLine();

    private static string Row(string name, List<double> ms) =>
        string.Create(CultureInfo.InvariantCulture, $"| {name} | {Percentile(ms, 50):0} | {Percentile(ms, 99):0} | {ms.Max():0} |");

    private static double Percentile(List<double> values, int p)
    {
        var sorted = values.Order().ToList();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }
}
