// The agent: turns a committed config into kernel state on this host. One instance per run
// (one-shot per event); the caller passes the snapshot it read and the source of the host's
// interfaces. Every subsystem runs in one loop, in the order registered: policy first, because
// the NICs it enforces are part of what the others see.
using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Netlink;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent;

/// <summary>A full apply: each subsystem's report, in order.</summary>
public sealed record ApplyOutcome(IReadOnlyList<SubsystemReport> Reports)
{
    public bool Failed => Reports.Any(r => r.Errors.Count > 0);
}

/// <summary>The outcome of `apply IFACE`: Skipped says why nothing was done (no subsystem has
/// anything to do with the interface); otherwise Reports say what was.</summary>
public sealed record PlugOutcome(string Interface, string? Skipped, IReadOnlyList<SubsystemReport> Reports)
{
    public bool Failed => Reports.Any(r => r.Errors.Count > 0);
}

/// <summary>Status: Warnings are the agent's own (an invalid snapshot); each subsystem has its own.</summary>
public sealed record AgentStatus(string Node, IReadOnlyList<string> Warnings, IReadOnlyList<SubsystemStatus> Subsystems)
{
    public Policy.PolicyStatus Policy => Subsystems.OfType<Policy.PolicyStatus>().Single();
}

public sealed partial class MicrosegAgent
{
    private readonly AgentOptions options;
    private readonly IInterfaceSource interfaces;
    private readonly ILogger log;
    private readonly IReadOnlyList<ISubsystem> subsystems;

    public MicrosegAgent(AgentOptions options, IInterfaceSource interfaces, ILoggerFactory logs)
    {
        this.options = options;
        this.interfaces = interfaces;
        log = logs.CreateLogger("microseg.agent");
        // In the order apply runs them.
        subsystems =
        [
            new Policy.PolicySubsystem(options, logs.CreateLogger("microseg.policy"), interfaces: interfaces),
            new Carrier.CarrierSubsystem(options, logs.CreateLogger("microseg.carrier"), interfaces: interfaces),
            new Forwarder.ForwarderSubsystem(options, logs.CreateLogger("microseg.forwarder")),
        ];
    }

    public AgentOptions Options => options;

    /// <summary>Full pass, every subsystem under its own lock. An invalid config throws before
    /// the kernel is touched; a subsystem that fails reports it and the others still run.</summary>
    /// <param name="snapshotStamp">The snapshot file's stamp, when it was read from one (the
    /// policy's plug index is written for it; without it, the index is removed).</param>
    public ApplyOutcome Apply(PolicyConfig config, string? snapshotStamp = null)
    {
        return ApplyAll(Host(config) with { SnapshotStamp = snapshotStamp });
    }

    /// <summary>Each subsystem's full pass in order, each seeing the host as those before it
    /// left it; <paramref name="policy"/>: the policy's report when it has done its part already.</summary>
    private ApplyOutcome ApplyAll(HostState host, PolicyReport? policy = null)
    {
        var reports = new List<SubsystemReport>();
        foreach (var s in subsystems)
        {
            var current = host;
            var report = policy is not null && s is Policy.PolicySubsystem ? policy : Run(s, () => s.Apply(current))!;
            reports.Add(report);
            host = report.Advance(host);
        }
        return new ApplyOutcome(reports);
    }

    /// <summary>The plug path: only this interface, in every subsystem it concerns (a guest NIC,
    /// a carrier bridge, a forwarder's physical NIC).</summary>
    public PlugOutcome ApplyInterface(PolicyConfig config, string name, string? snapshotStamp = null)
    {
        var host = Host(config) with { SnapshotStamp = snapshotStamp };
        var reports = new List<SubsystemReport>();
        foreach (var s in subsystems)
        {
            if (Run(s, () => s.Plug(host, name)) is not { } report) continue;
            reports.Add(report);
            host = report.Advance(host);
        }
        var done = reports.Where(r => !r.Skipped).ToList();
        return new PlugOutcome(name, done.Count > 0 ? null : reports.FirstOrDefault()?.Summary ?? "no subsystem has anything to do with it", done);
    }

    /// <summary>The plug path without the snapshot: from the policy's plug index, when it is of
    /// the snapshot whose file has stamp <paramref name="snapshotStamp"/> and can answer for
    /// this interface exactly (then no other subsystem acts on it); null otherwise, and the
    /// caller reads the snapshot and calls <see cref="ApplyInterface"/>.</summary>
    public PlugOutcome? ApplyInterfaceIndexed(string name, string snapshotStamp)
    {
        var policy = subsystems.OfType<Policy.PolicySubsystem>().Single();
        try
        {
            if (policy.TryPlugIndexed(name, snapshotStamp, out var why) is { } report) return new PlugOutcome(name, null, [report]);
            LogIndexMiss(log, name, why);
            return null;
        }
        catch (Exception e) when (AgentErrors.IsOperationFailure(e))
        {
            LogFailed(log, policy.Name, e.Message);
            return new PlugOutcome(name, null, [SubsystemReport.Failure(policy.Name, e.Message)]);
        }
    }

    /// <summary>The full apply of the snapshot whose file has stamp <paramref name="snapshotStamp"/>
    /// when the policy's plug index shows that it would change nothing there: the policy checks
    /// its links and maps without the snapshot, the other subsystems apply the snapshot's
    /// bridges and forwarders (all they plan from) as in a full apply. Null otherwise (and on
    /// any failure): the caller reads the snapshot and calls <see cref="Apply"/>.</summary>
    public ApplyOutcome? ApplyUnchanged(string snapshotStamp)
    {
        var policy = subsystems.OfType<Policy.PolicySubsystem>().Single();
        var links = interfaces.Links();
        PolicyReport? report;
        PolicyConfig? others;
        string why;
        try { report = policy.TryApplyUnchanged(snapshotStamp, links, out others, out why); }
        catch (Exception e) when (AgentErrors.IsOperationFailure(e))
        {
            (report, others, why) = (null, null, e.Message);
        }
        if (report is null || others is null)
        {
            LogUnchangedMiss(log, why);
            return null;
        }
        return ApplyAll(new HostState(others, options.Node, links, new HashSet<int>()) { SnapshotStamp = snapshotStamp }, report);
    }

    /// <summary>Detaches everything and removes all pins and run state, the last subsystem first.</summary>
    public int Clear()
    {
        int links = subsystems.Reverse().Sum(s => s.Clear());
        Subsystem.DeleteIfEmpty(options.RunDirectory);
        Subsystem.DeleteIfEmpty(options.BpffsRoot);
        return links;
    }

    /// <summary>flush-flows: deletes flows from this host's flow table (all, one NIC's, or a
    /// group's NICs'). A group needs the committed snapshot; without one, only all flows or a
    /// NIC's can go.</summary>
    public FlowFlushResult FlushFlows(PolicyConfig? config, FlowScope scope)
    {
        var links = interfaces.Links();
        var host = config is null
            ? new HostState(PolicyConfig.Empty, options.Node, links, new HashSet<int>()) { HasSnapshot = false }
            : Host(config, links);
        return subsystems.OfType<Policy.PolicySubsystem>().Single().FlushFlows(host, scope);
    }

    /// <summary>What is loaded and enforced. An invalid snapshot does not stop status: it is
    /// reported as a warning (the last good state stays enforced).</summary>
    public AgentStatus Status(PolicyConfig? config)
    {
        var links = interfaces.Links();
        var host = new HostState(PolicyConfig.Empty, options.Node, links, new HashSet<int>()) { HasSnapshot = false };
        var warnings = new List<string>();
        if (config is not null)
        {
            try { host = Host(config, links); }
            catch (ConfigException e) { warnings.Add($"the committed snapshot is invalid, so apply will not change anything: {e.Problems[0]}"); }
        }
        var statuses = new List<SubsystemStatus>();
        foreach (var s in subsystems)
        {
            if (s.Status(host) is not { } status) continue;
            statuses.Add(status);
            host = status.Advance(host);
        }
        return new AgentStatus(options.Node, warnings, statuses);
    }

    private HostState Host(PolicyConfig config, IReadOnlyList<LinkInfo>? links = null)
    {
        // A resident agent plugs NIC after NIC with one snapshot: it is checked once.
        var checkedConfig = lastValid;
        if (checkedConfig is null || !ReferenceEquals(checkedConfig.Source, config))
        {
            var (valid, _) = Marks.AssignMissing(config);
            Validation.Ensure(valid);
            lastValid = checkedConfig = new CheckedConfig(config, valid);
        }
        return new HostState(checkedConfig.Valid, options.Node, links ?? interfaces.Links(), new HashSet<int>());
    }

    /// <summary>A config that passed validation, with its marks assigned.</summary>
    private sealed record CheckedConfig(PolicyConfig Source, PolicyConfig Valid);

    private volatile CheckedConfig? lastValid;

    /// <summary>A subsystem that cannot do its part (see <see cref="AgentErrors"/>) reports it as
    /// its own error; anything else is a bug and propagates.</summary>
    private SubsystemReport? Run(ISubsystem s, Func<SubsystemReport?> operation)
    {
        try { return operation(); }
        catch (Exception e) when (AgentErrors.IsOperationFailure(e))
        {
            LogFailed(log, s.Name, e.Message);
            return SubsystemReport.Failure(s.Name, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "apply reads the snapshot: {Reason}")]
    private static partial void LogUnchangedMiss(ILogger log, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "plug {Interface} reads the snapshot: {Reason}")]
    private static partial void LogIndexMiss(ILogger log, string @interface, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Subsystem} could not run: {Error}")]
    private static partial void LogFailed(ILogger log, string subsystem, string error);
}

/// <summary>An operation the agent cannot do, with a message for the user.</summary>
public sealed class AgentException(string message) : Exception(message);

public static class AgentErrors
{
    /// <summary>Failures of an agent operation that are the host's or the input's, reported as
    /// one line by the CLI and the API; anything else is a bug and propagates.</summary>
    public static bool IsOperationFailure(Exception e) =>
        e is AgentException or Microseg.Bpf.BpfException or NetlinkException or ConfigException or IOException
            or UnauthorizedAccessException or DllNotFoundException or PlatformNotSupportedException;
}
