// The Prometheus metrics of one node, as `microseg serve` and `microseg agent --metrics` expose
// them at /metrics. Kernel figures (the policy counters, the maps' fill, the monitor's lost
// events) are read from the pinned maps when Prometheus scrapes, never on a timer: a scrape
// shows the kernel as it is at that moment and costs nothing between scrapes. Apply figures are
// recorded as applies happen (IApplyObserver). Every series carries the node label.
using Microseg.Agent;
using Microseg.Agent.Observe;
using Microseg.Agent.Policy;
using Microseg.Agent.Resident;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microsoft.Extensions.Logging;
using Prometheus;
using Counter = Prometheus.Counter;

namespace Microseg.Api.Metrics;

public sealed partial class NodeMetrics : IApplyObserver
{
    private readonly AgentOptions options;
    private readonly IInterfaceSource interfaces;
    private readonly ILogger log;
    private readonly object scrape = new();

    private readonly Counter packets, bytes, lost;
    private readonly Gauge loaded, flowEntries, flowCapacity, verdictEntries, verdictCapacity, serviceEntries, serviceCapacity, nics, version;
    private readonly Histogram applyDuration;
    private readonly Counter applyFailures;
    /// <summary>The last value read per series of a kernel counter: a smaller one is a reset
    /// (programs reloaded, a slot reused), exported as a new series start.</summary>
    private readonly Dictionary<(string Kind, string Rule, string Group), CounterRow> rows = [];
    private readonly Dictionary<string, ulong> lostByNic = [];
    private string? lastProblem;

    public NodeMetrics(AgentOptions options, ILoggerFactory logs, IInterfaceSource? interfaces = null)
    {
        this.options = options;
        this.interfaces = interfaces ?? new NetlinkInterfaces();
        log = logs.CreateLogger("microseg.metrics");
        Registry = Prometheus.Metrics.NewCustomRegistry();
        Registry.SetStaticLabels(new Dictionary<string, string> { ["node"] = options.Node });
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        string[] counterLabels = ["kind", "rule", "group"];
        packets = f.CreateCounter("microseg_policy_packets_total",
            "Packets by verdict kind (allow, deny, audit, default-deny, reply, infra), deciding rule (empty for the kinds without one) and destination group",
            new CounterConfiguration { LabelNames = counterLabels });
        bytes = f.CreateCounter("microseg_policy_bytes_total",
            "Bytes of those packets (as the kernel saw them at the guest NIC)", new CounterConfiguration { LabelNames = counterLabels });
        lost = f.CreateCounter("microseg_monitor_events_lost_total",
            "Verdict events the kernel could not deliver (the per-NIC rate limit or a full ring), by guest NIC",
            new CounterConfiguration { LabelNames = ["nic"] });
        loaded = f.CreateGauge("microseg_policy_loaded", "1 when the policy programs are loaded on this node, else 0");
        flowEntries = f.CreateGauge("microseg_flow_table_entries", "Entries in the flow table (tracked connections)");
        flowCapacity = f.CreateGauge("microseg_flow_table_capacity_entries", "Entries the flow table holds before the least recently used go");
        verdictEntries = f.CreateGauge("microseg_verdict_map_entries", "Entries in the verdict map");
        verdictCapacity = f.CreateGauge("microseg_verdict_map_capacity_entries", "Entries the verdict map holds");
        serviceEntries = f.CreateGauge("microseg_services_map_entries", "Entries in the services map");
        serviceCapacity = f.CreateGauge("microseg_services_map_capacity_entries", "Entries the services map holds");
        nics = f.CreateGauge("microseg_enforced_nics", "Guest NICs with a group in the kernel, attached both ways");
        version = f.CreateGauge("microseg_enforced_config_version", "The committed snapshot version this node enforces (0: none applied yet by this process)");
        applyDuration = f.CreateHistogram("microseg_apply_duration_seconds", "Duration of applies: full (a whole snapshot) or plug (one guest NIC)",
            new HistogramConfiguration { LabelNames = ["kind"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        applyFailures = f.CreateCounter("microseg_apply_failures_total", "Applies that did not enforce everything (an invalid snapshot, a subsystem or NIC that failed)",
            new CounterConfiguration { LabelNames = ["kind"] });
        foreach (var g in KernelGauges) g.Unpublish();
        foreach (var kind in new[] { "full", "plug" })
        {
            // Both series exist from the start: a rate() over a failure counter needs its zero.
            applyFailures.WithLabels(kind);
            applyDuration.WithLabels(kind);
        }
        Registry.AddBeforeCollectCallback(Scrape);
    }

    public CollectorRegistry Registry { get; }

    public void Applied(ApplyKind kind, TimeSpan duration, bool failed, long enforcedVersion)
    {
        var label = kind == ApplyKind.Full ? "full" : "plug";
        applyDuration.WithLabels(label).Observe(duration.TotalSeconds);
        if (failed) applyFailures.WithLabels(label).Inc();
        version.Set(enforcedVersion);
    }

    /// <summary>Reads the kernel's figures into the collectors. One scrape at a time.</summary>
    private void Scrape()
    {
        lock (scrape)
        {
            string? problem = null;
            try { ReadStatus(); }
            catch (Exception e) when (AgentErrors.IsOperationFailure(e))
            {
                problem = e.Message;
                loaded.Set(0);
                Unpublish();
            }
            try { ReadCounters(); }
            catch (Exception e) when (AgentErrors.IsOperationFailure(e)) { problem ??= e.Message; ClearCounters(); }
            try { ReadLost(); }
            catch (Exception e) when (AgentErrors.IsOperationFailure(e)) { problem ??= e.Message; }
            // Once per change, not once per scrape: the log is for people.
            if (problem != lastProblem && problem is not null) LogUnreadable(log, problem);
            lastProblem = problem;
        }
    }

    private void ReadStatus()
    {
        var status = new MicrosegAgent(options, interfaces, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).Status(null).Policy;
        loaded.Set(status.Loaded ? 1 : 0);
        if (!status.Loaded)
        {
            Unpublish();
            return;
        }
        if (status.FlowTable is { } flows)
        {
            flowEntries.Set(flows.Entries);
            flowCapacity.Set(flows.MaxEntries);
        }
        if (status.VerdictMap is { } verdicts)
        {
            verdictEntries.Set(verdicts.Words);
            verdictCapacity.Set(verdicts.MaxWords);
        }
        serviceEntries.Set(status.ServiceEntries);
        serviceCapacity.Set(PolicyCapacity.FromEnvironment().MaxServices);
        nics.Set(status.Nics.Count(n => n.Ingress && n.Egress));
    }

    /// <summary>No fill or size where nothing is loaded: a 0 would read as an empty map.</summary>
    private void Unpublish()
    {
        foreach (var g in KernelGauges) g.Unpublish();
    }

    private Gauge[] KernelGauges => [flowEntries, flowCapacity, verdictEntries, verdictCapacity, serviceEntries, serviceCapacity, nics];

    private void ReadCounters()
    {
        var stats = PolicyCounters.Read(options);
        var seen = new HashSet<(string, string, string)>();
        foreach (var row in stats.Rows)
        {
            var key = (row.Kind, row.Rule ?? "", row.Group);
            seen.Add(key);
            if (rows.TryGetValue(key, out var before) && (row.Packets < before.Packets || row.Bytes < before.Bytes))
            {
                packets.RemoveLabelled(key.Item1, key.Item2, key.Item3);
                bytes.RemoveLabelled(key.Item1, key.Item2, key.Item3);
            }
            packets.WithLabels(key.Item1, key.Item2, key.Item3).IncTo(row.Packets);
            bytes.WithLabels(key.Item1, key.Item2, key.Item3).IncTo(row.Bytes);
            rows[key] = row;
        }
        foreach (var gone in rows.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            packets.RemoveLabelled(gone.Kind, gone.Rule, gone.Group);
            bytes.RemoveLabelled(gone.Kind, gone.Rule, gone.Group);
            rows.Remove(gone);
        }
    }

    private void ClearCounters()
    {
        foreach (var k in rows.Keys)
        {
            packets.RemoveLabelled(k.Kind, k.Rule, k.Group);
            bytes.RemoveLabelled(k.Kind, k.Rule, k.Group);
        }
        rows.Clear();
    }

    /// <summary>The kernel counts lost events per guest NIC in the monitor map; a NIC that goes
    /// takes its count with it, which shows here as a counter reset.</summary>
    private void ReadLost()
    {
        var pin = Path.Combine(options.BpffsFor(PolicySubsystem.SubsystemName), PolicyAbi.MonitorMap);
        if (!File.Exists(pin)) return;
        using var map = BpfHashMap<uint, MonitorState>.OpenPinned(pin);
        var names = interfaces.Links().ToDictionary(l => l.IfIndex, l => l.Name);
        var now = new Dictionary<string, ulong>();
        foreach (var e in map.Entries())
        {
            var nic = names.GetValueOrDefault((int)e.Key) ?? $"if:{e.Key}";
            now[nic] = now.GetValueOrDefault(nic) + e.Value.Lost;
        }
        foreach (var (nic, count) in now)
        {
            if (lostByNic.TryGetValue(nic, out var before) && count < before) lost.RemoveLabelled(nic);
            lost.WithLabels(nic).IncTo(count);
        }
        foreach (var gone in lostByNic.Keys.Where(k => !now.ContainsKey(k)).ToList()) lost.RemoveLabelled(gone);
        lostByNic.Clear();
        foreach (var (nic, count) in now) lostByNic[nic] = count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "metrics: the kernel's figures cannot be read: {Problem}")]
    private static partial void LogUnreadable(ILogger log, string problem);
}
