// agent-latency: the resident agent (`microseg agent`) on a lab host while guest NICs appear one
// after another (BENCH_AGENT_NICS, default 200): for each, the time from the link's creation
// (its RTM_NEWLINK, received by this process as the agent receives it) to both directions
// enforced (the ingress link's pin appears: the agent writes nic_group, then creates and pins
// the egress link, then the ingress one), against the kernel's own time for the same two tcx
// attaches, timed in the same run on a NIC of the same kind between the agent's NICs (two
// BPF_LINK_CREATE calls with the policy programs, back to back). The committed config has
// BENCH_AGENT_GROUPS random groups (default 1,000) and five times as many rules besides the
// NICs' group.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microseg.Bpf;
using Microseg.Lab;
using Microseg.Netlink;
using Microseg.Policy;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Bench;

public static class AgentLatencyBench
{
    public static Task Run(Report report)
    {
        int nics = Setting("BENCH_AGENT_NICS", 200), groups = Setting("BENCH_AGENT_GROUPS", 1_000);
        var config = groups > 0 ? PolicyBench.RandomConfig(groups, 5 * groups, new Random(3)) : PolicyConfig.Empty;
        config = config.Put(new Group("lat", Mark: 60_000));
        config = config.Put(new Rule("p60000-60000", "lat", "lat", RuleAction.Allow));
        for (int i = 0; i < nics; i++) config = config.Put(new Assignment(3000 + i, 0, "lat"));
        var spec = new LabSpec("blat", SectionConfig.Write(config), [new LabHost("node1")], []);
        var lab = new LabRig(spec, Paths.Microseg);
        var host = spec.Hosts[0];
        try
        {
            lab.Up(TextWriter.Null);
            var ns = lab.Namespace(host.Name);
            using var agent = new LabAgentProcess(lab, host, lab.ConfigDirectory);
            agent.WaitForLog("applied snapshot version");
            var linkDir = Path.Combine(lab.BpffsRoot(host), "policy", "links");
            var clock = Stopwatch.StartNew();
            var pinned = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
            using var watcher = new FileSystemWatcher(linkDir) { NotifyFilter = NotifyFilters.FileName, InternalBufferSize = 65536 };
            watcher.Created += (_, e) => pinned.TryAdd(e.Name!, clock.Elapsed.TotalMilliseconds);
            watcher.EnableRaisingEvents = true;

            // Link creations as the kernel announces them, timed on arrival.
            var created = new ConcurrentDictionary<string, (int IfIndex, double At)>(StringComparer.Ordinal);
            using var stop = new CancellationTokenSource();
            var events = NetworkNamespace.Run(ns, () => LinkEventSubscription.Open());
            var reader = new Thread(() =>
            {
                try
                {
                    while (!stop.IsCancellationRequested)
                        foreach (var e in events.Read(stop.Token))
                            if (e is LinkUpdated u) created.TryAdd(u.Link.Name, (u.Link.IfIndex, clock.Elapsed.TotalMilliseconds));
                }
                catch (OperationCanceledException) { }
                catch (ObjectDisposedException) { }
            }) { IsBackground = true };
            reader.Start();

            using var policy = BpfProgram.OpenPinned(Path.Combine(lab.BpffsRoot(host), "policy", "prog", "ingress"));
            using var policyEgress = BpfProgram.OpenPinned(Path.Combine(lab.BpffsRoot(host), "policy", "prog", "egress"));
            using var ip = Process.Start(new ProcessStartInfo("ip", ["-n", ns, "-batch", "-"]) { RedirectStandardInput = true, UseShellExecute = false })!;
            var latency = new List<double>();
            var floor = new List<double>();
            for (int i = 0; i < nics; i++)
            {
                var nic = $"veth{3000 + i}i0";
                ip.StandardInput.WriteLine($"link add {nic} type veth peer name pl{i}");
                ip.StandardInput.Flush();
                var (ifIndex, at) = Wait(() => created.TryGetValue(nic, out var c) ? c : ((int, double)?)null, $"{nic} created");
                var enforced = Wait(() => pinned.TryGetValue($"{ifIndex}-ingress", out var t) ? t : (double?)null, $"{nic} enforced by the agent:\n{agent.Log}");
                latency.Add(enforced - at);

                // The floor: the same two attaches on a NIC of the same kind that the agent leaves alone.
                var bare = $"fl{i}";
                ip.StandardInput.WriteLine($"link add {bare} type veth peer name flp{i}");
                ip.StandardInput.Flush();
                var (bareIndex, _) = Wait(() => created.TryGetValue(bare, out var c) ? c : ((int, double)?)null, $"{bare} created");
                floor.Add(NetworkNamespace.Run(ns, () =>
                {
                    var sw = Stopwatch.StartNew();
                    using var egress = TcxLink.Create(policyEgress, bareIndex, TcxDirection.Egress);
                    using var ingress = TcxLink.Create(policy, bareIndex, TcxDirection.Ingress);
                    return sw.Elapsed.TotalMilliseconds;
                }));
            }
            ip.StandardInput.Close();
            ip.WaitForExit();
            stop.Cancel();
            events.Dispose();
            var status = lab.Microseg(host, "status");
            int enforcedCount = Enumerable.Range(0, nics).Count(i => status.Contains($"veth{3000 + i}i0", StringComparison.Ordinal));
            double p50 = Percentile(latency, 50), p99 = Percentile(latency, 99), f50 = Percentile(floor, 50), f99 = Percentile(floor, 99);
            report.Line($"Resident agent: {nics} guest NICs created one after another on a lab host ({groups:N0} random groups and {5 * groups:N0} rules committed besides the NICs' group); " +
                        "time from the link's RTM_NEWLINK to its ingress link pinned (both directions enforced), against two tcx attaches of the policy programs on a fresh veth between them (same run).");
            report.Line();
            report.Line("| | p50 ms | p99 ms | max ms |");
            report.Line("|---|---:|---:|---:|");
            report.Line($"| kernel floor: 2 × BPF_LINK_CREATE (tcx egress + ingress) | {f50:F2} | {f99:F2} | {floor.Max():F2} |");
            report.Line($"| agent: link created → both directions enforced | {p50:F2} | {p99:F2} | {latency.Max():F2} |");
            report.Line();
            report.Line($"p50 agent / p50 floor = {p50 / f50:F2}; p99 / p99 = {p99 / f99:F2}. Enforced after the run (status): {enforcedCount} / {nics}.");
        }
        finally
        {
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
    }

    private static T Wait<T>(Func<T?> probe, string what) where T : struct
    {
        var until = Stopwatch.StartNew();
        while (until.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (probe() is { } v) return v;
            Thread.Sleep(1);
        }
        throw new InvalidOperationException($"timed out waiting for {what}");
    }

    private static double Percentile(List<double> values, int p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1)];
    }

    private static int Setting(string name, int fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;
}
