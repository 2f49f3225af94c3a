// The agent on this host, as the API runs it after a commit: one apply at a time, its outcome
// (or the reason it could not run) kept as the "last apply" that status and the UI show.
using Microseg.Agent;
using Microseg.Agent.Policy;
using Microseg.Agent.Resident;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Netlink;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Api;

public sealed record NicOutcome(string Interface, string Group, string? Error);

public sealed record SubsystemOutcome(string Name, string Summary, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings);

/// <summary>What one apply did. Error is set when the apply could not run at all (no bpffs,
/// no privilege, an invalid snapshot); Failed lists NICs that could not be enforced.</summary>
public sealed record ApplyReport(
    DateTimeOffset At,
    long Version,
    string Node,
    string? Error,
    string? Load,
    IReadOnlyList<NicOutcome> Enforced,
    IReadOnlyList<NicOutcome> Failed,
    IReadOnlyList<SubsystemOutcome> Subsystems)
{
    public bool Ok => Error is null && Failed.Count == 0 && Subsystems.All(s => s.Errors.Count == 0);
}

public sealed partial class LocalAgent(AgentOptions options, IInterfaceSource interfaces, ILoggerFactory logs, IApplyObserver? applies = null)
{
    public LocalAgent(AgentOptions options, ILoggerFactory logs, IApplyObserver? applies = null) : this(options, new NetlinkInterfaces(), logs, applies) { }

    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly ILogger log = logs.CreateLogger("microseg.api");

    public AgentOptions Options => options;

    public ApplyReport? Last { get; private set; }

    /// <summary>The version of the last apply that enforced everything (0: none yet).</summary>
    private long enforced;

    /// <summary>Applies a committed snapshot on this host. Never throws for what the agent
    /// reports as an operation failure: that becomes the report's Error.</summary>
    public async Task<ApplyReport> ApplyAsync(Snapshot snapshot, CancellationToken cancel)
    {
        await gate.WaitAsync(cancel);
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var report = Apply(snapshot);
            Last = report;
            if (report.Ok) enforced = snapshot.Version;
            applies?.Applied(ApplyKind.Full, System.Diagnostics.Stopwatch.GetElapsedTime(started), !report.Ok, enforced);
            if (report.Ok) LogApplied(log, snapshot.Version, report.Enforced.Count);
            else LogApplyFailed(log, snapshot.Version, report.Error ?? string.Join("; ", report.Failed.Select(f => $"{f.Interface}: {f.Error}")));
            return report;
        }
        finally
        {
            gate.Release();
        }
    }

    private ApplyReport Apply(Snapshot snapshot)
    {
        var at = DateTimeOffset.UtcNow;
        try
        {
            var outcome = new MicrosegAgent(options, interfaces, logs).Apply(snapshot.Config);
            // The policy's outcome is the report's own fields; a policy that could not run at all
            // is the report's error, as it was before the subsystems became one loop.
            var policy = outcome.Reports.Single(r => r.Subsystem == PolicySubsystem.SubsystemName);
            var p = (policy as PolicyReport)?.Result;
            return new ApplyReport(at, snapshot.Version, options.Node, p is null ? $"apply on {options.Node}: {string.Join("; ", policy.Errors)}" : null,
                p?.Load.ToString().ToLowerInvariant(),
                [.. p?.Enforced.Select(n => new NicOutcome(n.Name, n.Group, null)) ?? []],
                [.. p?.Failed.Select(f => new NicOutcome(f.Nic.Name, f.Nic.Group, f.Error)) ?? []],
                [.. outcome.Reports.Where(r => r != policy).Select(r => new SubsystemOutcome(r.Subsystem, r.Summary, r.Errors, r.Warnings))]);
        }
        catch (Exception e) when (AgentErrors.IsOperationFailure(e))
        {
            return new ApplyReport(at, snapshot.Version, options.Node, $"apply on {options.Node}: {e.Message}", null, [], [], []);
        }
    }

    /// <summary>The agent's status, or the one-line reason it cannot be read.</summary>
    public (AgentStatus? Status, string? Error) Status(PolicyConfig? committed)
    {
        try { return (new MicrosegAgent(options, interfaces, logs).Status(committed), null); }
        catch (Exception e) when (AgentErrors.IsOperationFailure(e)) { return (null, e.Message); }
    }


    [LoggerMessage(Level = LogLevel.Information, Message = "applied snapshot version {Version}: {Enforced} NICs enforced")]
    private static partial void LogApplied(ILogger log, long version, int enforced);

    [LoggerMessage(Level = LogLevel.Warning, Message = "apply of snapshot version {Version} failed: {Error}")]
    private static partial void LogApplyFailed(ILogger log, long version, string error);
}
