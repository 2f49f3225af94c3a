// `microseg agent`: the resident agent. One worker (the caller's thread) does all kernel work,
// in the order things happened: a guest NIC that appears is plugged at once (its first
// RTM_NEWLINK, before it is enslaved or up), one that goes is reclaimed by a full apply, and a
// new committed snapshot, a link resync or SIGHUP is a full apply. Link events come from the
// LinkWatcher's own thread, snapshot changes from the store's watch; both only queue work.
// Stopping (SIGTERM, SIGINT) leaves every pin and link in place: enforcement outlives us.
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Resident;

public sealed partial class ResidentAgent
{
    public const string LogCategory = "microseg.resident";

    private abstract record Work;
    private sealed record LinkWork(IReadOnlyList<LinkAction> Actions) : Work;
    private sealed record SnapshotWork(RunningChange Change) : Work;
    private sealed record ReloadWork : Work;
    private sealed record FatalWork(Exception Error) : Work;

    private readonly AgentOptions options;
    private readonly IConfigStore store;
    private readonly ILogger log;
    private readonly SystemdNotifier notifier;
    private readonly TimeSpan? watchdog;
    private readonly BlockingCollection<Work> queue = [];
    private readonly InterfaceTable table = new();
    private readonly MicrosegAgent agent;
    private readonly INodeStatusSink status;
    private readonly IApplyObserver? applies;
    /// <summary>The newest version the store reported, and what went wrong last (null: nothing).</summary>
    private long seen;
    private string? trouble;

    /// <summary>The last snapshot applied without a config error: what stays enforced when a
    /// newer one is invalid.</summary>
    private Snapshot? current;
    private readonly HashSet<int> enforced = [];

    public ResidentAgent(AgentOptions options, IConfigStore store, ILoggerFactory logs, SystemdNotifier notifier, TimeSpan? watchdog, INodeStatusSink? status = null,
        IApplyObserver? applies = null)
    {
        this.applies = applies;
        this.status = status ?? NoNodeStatus.Instance;
        this.options = options;
        this.store = store;
        this.notifier = notifier;
        this.watchdog = watchdog;
        log = logs.CreateLogger(LogCategory);
        agent = new MicrosegAgent(options, table, logs);
    }

    /// <summary>Runs until <paramref name="stop"/> is cancelled or a signal stops it: 0 after a
    /// clean stop, 1 when the link event subscription failed (systemd restarts us; the
    /// restart resyncs).</summary>
    public int Run(CancellationToken stop)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopping.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopping.Cancel(); });
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; queue.Add(new ReloadWork()); });

        using var links = new LinkWatcher(table, actions => queue.Add(new LinkWork(actions)), e => queue.Add(new FatalWork(e)));
        links.Start();
        LogStarted(log, options.Node, table.Links().Count);

        // The first full apply, then READY=1: the boot unit's `microseg apply` may have done it
        // already, and then this one writes nothing.
        FullApply(ReadSnapshot(), "start");
        if (current is null) Publish(trouble ?? $"nothing committed yet ({store.RunningLocation})");
        notifier.Notify(("READY", "1"), ("STATUS", StatusLine()));

        using var ping = watchdog is { } every
            ? new Timer(_ => notifier.Notify(("WATCHDOG", "1")), null, TimeSpan.Zero, every)
            : null;
        var snapshots = Task.Run(() => FollowSnapshots(stopping.Token));
        int exit = 0;
        try
        {
            while (true)
            {
                var batch = new List<Work> { queue.Take(stopping.Token) };
                // Whatever queued meanwhile goes in the same pass: a burst of NICs, one apply.
                while (queue.TryTake(out var more)) batch.Add(more);
                if (batch.OfType<FatalWork>().FirstOrDefault() is { } fatal)
                {
                    LogFatal(log, fatal.Error.Message);
                    exit = 1;
                    break;
                }
                Handle(batch);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }

        notifier.Notify(("STOPPING", "1"), ("STATUS", "stopping; enforcement stays in place"));
        stopping.Cancel();
        try { snapshots.Wait(TimeSpan.FromSeconds(5)); }
        catch (AggregateException e) when (e.InnerExceptions.All(x => x is OperationCanceledException)) { }
        LogStopped(log, current?.Version ?? 0);
        return exit;
    }

    private async Task FollowSnapshots(CancellationToken stop)
    {
        try
        {
            await foreach (var change in store.WatchRunning(stop))
                queue.Add(new SnapshotWork(change), stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    private void Handle(List<Work> batch)
    {
        var reasons = new List<string>();
        Snapshot? next = null;
        var actions = new List<LinkAction>();
        foreach (var work in batch)
        {
            switch (work)
            {
                case LinkWork l:
                    actions.AddRange(l.Actions);
                    break;
                case SnapshotWork { Change: { Problem: { } problem } }:
                    LogInvalidSnapshot(log, problem.Problems[0].ToString(), current?.Version ?? 0);
                    Publish(problem.Problems[0].ToString());
                    break;
                case SnapshotWork { Change.Snapshot: null }:
                    LogNothingCommitted(log, store.RunningLocation);
                    break;
                case SnapshotWork { Change.Snapshot: { } snapshot }:
                    // The watch reports the snapshot it starts from too; the same parse is the same content
                    // (a store back from an outage reports it again: the trouble is over).
                    if (ReferenceEquals(snapshot, next ?? current))
                    {
                        if (next is null) Publish(null);
                        break;
                    }
                    seen = Math.Max(seen, snapshot.Version);
                    next = snapshot;
                    reasons.Add($"snapshot version {snapshot.Version} committed");
                    break;
                case ReloadWork:
                    LogReload(log);
                    if (ReadSnapshot() is { } reread) next = reread;
                    reasons.Add("SIGHUP");
                    break;
            }
        }
        var plan = LinkWorkPlan.Of(actions);
        if (plan.FullApplyReason is { } why) reasons.Add(why);
        // A new snapshot is a full apply, which covers every link change of the batch too.
        if (next is not null && FullApply(next, string.Join("; ", reasons))) return;
        // No new snapshot, or an invalid one (logged, nothing touched): links go on with the last good.
        if (plan.FullApplyReason is not null)
        {
            FullApply(current, plan.FullApplyReason);
            return;
        }
        foreach (var plug in plan.Plugs) Plug(plug);
    }

    /// <summary>The committed snapshot, or null (nothing committed, or unreadable: logged).</summary>
    private Snapshot? ReadSnapshot()
    {
        try
        {
            var snapshot = store.ReadRunning();
            if (snapshot is null) LogNothingCommitted(log, store.RunningLocation);
            return snapshot;
        }
        catch (ConfigException e)
        {
            LogInvalidSnapshot(log, e.Problems[0].ToString(), current?.Version ?? 0);
            Publish(e.Problems[0].ToString());
            return null;
        }
    }

    /// <summary>A full apply of <paramref name="snapshot"/>; false when it is invalid (then the
    /// kernel was not touched and the last good snapshot stays current).</summary>
    private bool FullApply(Snapshot? snapshot, string reason)
    {
        if (snapshot is null) return false;
        ApplyOutcome outcome;
        seen = Math.Max(seen, snapshot.Version);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try { outcome = agent.Apply(snapshot.Config); }
        catch (ConfigException e)
        {
            applies?.Applied(ApplyKind.Full, System.Diagnostics.Stopwatch.GetElapsedTime(started), true, current?.Version ?? 0);
            LogInvalidSnapshot(log, $"version {snapshot.Version}: {e.Problems[0]}", current?.Version ?? 0);
            Publish($"version {snapshot.Version} is invalid, not applied: {e.Problems[0]}");
            return false;
        }
        current = snapshot;
        applies?.Applied(ApplyKind.Full, System.Diagnostics.Stopwatch.GetElapsedTime(started), outcome.Failed, snapshot.Version);
        enforced.Clear();
        foreach (var report in outcome.Reports)
        {
            if (report is PolicyReport p) enforced.UnionWith(p.Result.Enforced.Select(n => n.IfIndex));
            Report(report);
        }
        LogApplied(log, snapshot.Version, enforced.Count, reason);
        notifier.Notify(("STATUS", StatusLine()));
        Publish(outcome.Failed ? string.Join("; ", outcome.Reports.SelectMany(r => r.Errors.Select(e => $"{r.Subsystem}: {e}"))) : null);
        return true;
    }

    private void Plug(PlugLink link)
    {
        if (current is null) return;
        PlugOutcome outcome;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try { outcome = agent.ApplyInterface(current.Config, link.Name); }
        catch (ConfigException e)
        {
            applies?.Applied(ApplyKind.Plug, System.Diagnostics.Stopwatch.GetElapsedTime(started), true, current.Version);
            LogInvalidSnapshot(log, e.Problems[0].ToString(), current.Version);
            return;
        }
        if (outcome.Skipped is { } why)
        {
            LogPlugSkipped(log, link.Name, why);
            return;
        }
        applies?.Applied(ApplyKind.Plug, System.Diagnostics.Stopwatch.GetElapsedTime(started), outcome.Failed, current.Version);
        foreach (var report in outcome.Reports)
        {
            if (report is PolicyReport p) enforced.UnionWith(p.Result.Enforced.Select(n => n.IfIndex));
            Report(report);
        }
        if (!outcome.Failed) LogPlugged(log, link.Name, link.IfIndex, string.Join("; ", outcome.Reports.Select(r => $"{r.Subsystem}: {r.Summary}")));
        notifier.Notify(("STATUS", StatusLine()));
    }

    private void Report(SubsystemReport report)
    {
        foreach (var w in report.Warnings) LogSubsystemWarning(log, report.Subsystem, w);
        foreach (var e in report.Errors) LogSubsystemError(log, report.Subsystem, e);
    }

    /// <summary>Tells the store (when it keeps node records) what this node enforces and what
    /// went wrong last, or that nothing did.</summary>
    private void Publish(string? error)
    {
        trouble = error;
        status.Report(new NodeStatus(options.Node, current?.Version ?? 0, Math.Max(seen, current?.Version ?? 0), trouble, DateTimeOffset.UtcNow));
    }

    private string StatusLine() => current is null
        ? $"waiting for a committed snapshot ({store.RunningLocation})"
        : $"enforcing version {current.Version}, {enforced.Count} NIC{(enforced.Count == 1 ? "" : "s")}";

    [LoggerMessage(Level = LogLevel.Information, Message = "started on node {Node}: {Links} links in the interface table")]
    private static partial void LogStarted(ILogger log, string node, int links);

    [LoggerMessage(Level = LogLevel.Information, Message = "applied snapshot version {Version}: {Nics} NICs enforced ({Reason})")]
    private static partial void LogApplied(ILogger log, long version, int nics, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Interface} (ifindex {IfIndex}) enforced: {Summary}")]
    private static partial void LogPlugged(ILogger log, string @interface, int ifIndex, string summary);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Interface}: nothing to do: {Reason}")]
    private static partial void LogPlugSkipped(ILogger log, string @interface, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "the committed snapshot is invalid, version {Version} stays enforced: {Problem}")]
    private static partial void LogInvalidSnapshot(ILogger log, string problem, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "nothing committed yet ({Location}): waiting for 'microseg commit'")]
    private static partial void LogNothingCommitted(ILogger log, string location);

    [LoggerMessage(Level = LogLevel.Information, Message = "SIGHUP: re-reading the snapshot")]
    private static partial void LogReload(ILogger log);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Subsystem}: {Warning}")]
    private static partial void LogSubsystemWarning(ILogger log, string subsystem, string warning);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Subsystem}: {Error}")]
    private static partial void LogSubsystemError(ILogger log, string subsystem, string error);

    [LoggerMessage(Level = LogLevel.Critical, Message = "link events failed, stopping (a restart resyncs): {Error}")]
    private static partial void LogFatal(ILogger log, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "stopped; version {Version} stays enforced (pins outlive the agent)")]
    private static partial void LogStopped(ILogger log, long version);
}
