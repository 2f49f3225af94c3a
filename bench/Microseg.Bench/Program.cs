// Benchmark entry: `make bench` runs every suite; `make bench BENCH_ARGS=policy` runs one.
// Each suite prints a Markdown table and writes it to bench/results/<suite>.md.
using Microseg.Bench;

var suites = new Dictionary<string, Func<Report, Task>>(StringComparer.Ordinal)
{
    ["policy"] = PolicyBench.Run,
    ["packet"] = PacketBench.Run,
    ["masks"] = MasksBench.Run,
    ["dataplane"] = DataPlaneBench.Run,
    ["throughput"] = AgentBench.Throughput,
    ["apply"] = AgentBench.Apply,
    ["plug"] = AgentBench.Plug,
    ["agent-latency"] = AgentLatencyBench.Run,
    ["startup"] = StartupBench.Startup,
    ["plug-c"] = StartupBench.PlugVsC,
    ["scale-plan"] = ScaleBench.Plan,
    ["scale-apply"] = ScaleBench.Apply,
    ["scale-marks"] = MarkSpaceBench.Run,
    ["explain"] = ExplainBench.Run,
    ["carrier"] = CarrierBench.Run,
    ["forwarder"] = ForwarderBench.Run,
    ["cluster"] = ClusterBench.Lab,
    ["cluster-scale"] = ClusterBench.Scale,
    ["monitor-flood"] = MonitorBench.Flood,
};
var chosen = args.Length == 0 ? suites.Keys.ToList() : args.ToList();
foreach (var name in chosen)
{
    if (!suites.TryGetValue(name, out var run))
    {
        Console.Error.WriteLine($"bench: unknown suite '{name}' (have: {string.Join(", ", suites.Keys)})");
        return 2;
    }
    var report = new Report(name);
    await run(report);
    report.Save();
}
return 0;
