// `microseg agent --dry-run`: follows the committed snapshot as the resident agent does, and
// for each version validates it and plans this host's part (which NICs, which verdict words)
// without touching the kernel: no program, map, pin or link. It reports to the store's node
// records like a real agent (marked dry-run), so a cluster's convergence and the store's load
// can be tried, or measured with many of them, on machines that must not be changed.
using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Resident;

public sealed partial class DryRunAgent(string node, IConfigStore store, IInterfaceSource interfaces, INodeStatusSink status, ILogger log)
{
    private Snapshot? current;
    private long seen;

    /// <summary>The version it would enforce now (0: none yet).</summary>
    public long Version => Volatile.Read(ref current)?.Version ?? 0;

    /// <summary>Follows the snapshot until <paramref name="stop"/>; returns 0.</summary>
    public async Task<int> RunAsync(CancellationToken stop)
    {
        LogStarted(log, node);
        try
        {
            await foreach (var change in store.WatchRunning(stop))
                Handle(change);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        LogStopped(log, Version);
        return 0;
    }

    private void Handle(RunningChange change)
    {
        if (change.Problem is { } problem)
        {
            LogInvalid(log, problem.Problems[0].ToString(), Version);
            Publish(problem.Problems[0].ToString());
            return;
        }
        if (change.Snapshot is not { } snapshot)
        {
            Publish($"nothing committed yet ({store.RunningLocation})");
            return;
        }
        seen = Math.Max(seen, snapshot.Version);
        if (ReferenceEquals(snapshot, current))
        {
            Publish(null);
            return;
        }
        try
        {
            Validation.Ensure(snapshot.Config);
            var links = interfaces.Links().Select(l => new LocalInterface(l.Name, l.IfIndex));
            var plan = PolicyPlan.ForHost(snapshot.Config, links);
            LogPlanned(log, snapshot.Version, plan.Nics.Count, plan.Destinations, plan.Words.Count);
        }
        catch (ConfigException e)
        {
            LogInvalid(log, $"version {snapshot.Version}: {e.Problems[0]}", Version);
            Publish($"version {snapshot.Version} is invalid, not applied: {e.Problems[0]}");
            return;
        }
        Volatile.Write(ref current, snapshot);
        Publish(null);
    }

    private void Publish(string? error) =>
        status.Report(new NodeStatus(node, Version, Math.Max(seen, Version), error, DateTimeOffset.UtcNow, DryRun: true));

    [LoggerMessage(Level = LogLevel.Information, Message = "dry run on node {Node}: plans each committed version, never touches the kernel")]
    private static partial void LogStarted(ILogger log, string node);

    [LoggerMessage(Level = LogLevel.Information, Message = "would apply snapshot version {Version}: {Nics} NICs enforced, {Destinations} destination groups, {Words} verdict words")]
    private static partial void LogPlanned(ILogger log, long version, int nics, int destinations, int words);

    [LoggerMessage(Level = LogLevel.Error, Message = "the committed snapshot is invalid, version {Version} stays planned: {Problem}")]
    private static partial void LogInvalid(ILogger log, string problem, long version);

    [LoggerMessage(Level = LogLevel.Information, Message = "dry run stopped at version {Version}")]
    private static partial void LogStopped(ILogger log, long version);
}

/// <summary>No interfaces: a dry-run agent that stands for a host it is not on.</summary>
public sealed class NoInterfaces : IInterfaceSource
{
    public IReadOnlyList<Microseg.Netlink.LinkInfo> Links() => [];
}
