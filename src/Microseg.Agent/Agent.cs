// The agent: turns a committed config into kernel state on this host. One instance per run
// (one-shot per event); the caller passes the snapshot it read.
using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Netlink;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent;

/// <summary>The outcome of `apply IFACE`: Skipped says why nothing was done (not a guest NIC,
/// no assignment, no subsystem's interface); otherwise Result (policy) and Subsystems say what was.</summary>
public sealed record PlugOutcome(string Interface, string? Skipped, PolicyApplyResult? Result, IReadOnlyList<(string Subsystem, SubsystemReport Report)> Subsystems)
{
    public bool Failed => (Result?.Failed.Count ?? 0) > 0 || Subsystems.Any(s => s.Report.Errors.Count > 0);
}

/// <summary>A full apply: the policy subsystem's result, then each other subsystem's report.</summary>
public sealed record ApplyOutcome(PolicyApplyResult Policy, IReadOnlyList<(string Subsystem, SubsystemReport Report)> Subsystems)
{
    public bool Failed => Policy.Failed.Count > 0 || Subsystems.Any(s => s.Report.Errors.Count > 0);
}

public sealed class MicrosegAgent
{
    private readonly AgentOptions options;
    private readonly PolicySubsystem policy;
    private readonly IReadOnlyList<ISubsystem> subsystems;

    public MicrosegAgent(AgentOptions options, ILoggerFactory logs)
    {
        this.options = options;
        policy = new PolicySubsystem(options, logs.CreateLogger("microseg.policy"));
        // Further subsystems register here, in the order apply runs them.
        subsystems =
        [
            new Carrier.CarrierSubsystem(options, logs.CreateLogger("microseg.carrier")),
            new Forwarder.ForwarderSubsystem(options, logs.CreateLogger("microseg.forwarder")),
        ];
    }

    public AgentOptions Options => options;

    /// <summary>Full pass: policy first (it says which NICs are enforced), then the other
    /// subsystems, each under its own lock. An invalid config throws before the kernel is touched.</summary>
    public ApplyOutcome Apply(PolicyConfig config)
    {
        config = Prepare(config);
        var links = LinksHere();
        PolicyApplyResult result;
        using (SubsystemLock.Exclusive(policy.State.LockPath))
            result = policy.Apply(PolicyPlan.ForHost(config, Local(links)));
        var host = new HostState(config, options.Node, links, result.Enforced.Select(n => n.IfIndex).ToHashSet());
        var reports = new List<(string, SubsystemReport)>();
        foreach (var s in subsystems)
        {
            using var _ = SubsystemLock.Exclusive(LockPath(s));
            reports.Add((s.Name, s.Apply(host)));
        }
        return new ApplyOutcome(result, reports);
    }

    private string LockPath(ISubsystem s) => Path.Combine(options.RunFor(s.Name), "lock");

    /// <summary>The plug path: only this interface. For a guest NIC, policy (an unassigned NIC
    /// or a non-guest name is a no-op for it); then any subsystem that owns the interface
    /// (a carrier bridge, a forwarder's physical NIC).</summary>
    public PlugOutcome ApplyInterface(PolicyConfig config, string name)
    {
        config = Prepare(config);
        // One link dump serves the policy (this NIC's ifindex) and the subsystems (bridges, '*').
        var links = LinksHere();
        var link = links.FirstOrDefault(l => l.Name == name);
        PolicyApplyResult? result = null;
        string? skipped = null;
        if (!GuestNic.TryParse(name, out var guest))
            skipped = "not a guest NIC name (tap{vmid}i{n} or veth{vmid}i{n})";
        else if (!config.Assignments.ContainsKey(guest.AssignmentId))
            skipped = $"no assignment {guest.AssignmentId}: not enforced";
        else if (link is null)
            throw new AgentException($"apply {name}: no such interface on this host; it is assigned ({guest.AssignmentId}) and cannot be enforced");
        else
            result = PlugPolicy(config, link, links);

        var reports = new List<(string, SubsystemReport)>();
        if (subsystems.Count > 0)
        {
            if (link is not null)
            {
                var enforced = result?.Enforced.Select(n => n.IfIndex).ToHashSet() ?? [];
                var host = new HostState(config, options.Node, links, enforced);
                foreach (var s in subsystems)
                {
                    using var _ = SubsystemLock.Exclusive(LockPath(s));
                    if (s.Plug(host, link) is { } report) reports.Add((s.Name, report));
                }
            }
        }
        if (reports.Count > 0 && result is null) skipped = null;
        return new PlugOutcome(name, skipped, result, reports);
    }

    private PolicyApplyResult PlugPolicy(PolicyConfig config, LinkInfo link, IReadOnlyList<LinkInfo> links)
    {
        var plan = PolicyPlan.ForInterface(config, new LocalInterface(link.Name, link.IfIndex))!;
        using (SubsystemLock.Shared(policy.State.LockPath))
        {
            if (policy.IsCurrent) return policy.Plug(plan);
        }
        // Programs missing or from another build: a full pass (exclusive) covers this NIC too.
        using (SubsystemLock.Exclusive(policy.State.LockPath))
            return policy.Apply(PolicyPlan.ForHost(config, Local(links)));
    }

    /// <summary>Detaches everything and removes all pins and run state.</summary>
    public int Clear()
    {
        int links = 0;
        foreach (var s in subsystems)
        {
            using (SubsystemLock.Exclusive(LockPath(s)))
            {
                links += s.Clear();
                File.Delete(LockPath(s));
            }
            DeleteIfEmpty(options.RunFor(s.Name));
            DeleteIfEmpty(options.BpffsFor(s.Name));
        }
        using (SubsystemLock.Exclusive(policy.State.LockPath))
        {
            links += policy.Clear();
            File.Delete(policy.State.LockPath);
        }
        foreach (var dir in new[] { policy.State.Directory, options.RunDirectory, options.BpffsRoot })
            DeleteIfEmpty(dir);
        return links;
    }

    private static void DeleteIfEmpty(string dir)
    {
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
    }

    /// <summary>What is loaded and enforced. An invalid snapshot does not stop status: it is
    /// reported as a warning (the last good state stays enforced).</summary>
    public AgentStatus Status(PolicyConfig? config)
    {
        var interfaces = LinksHere();
        string? problem = null;
        if (config is not null)
        {
            try { config = Prepare(config); }
            catch (ConfigException e)
            {
                problem = $"the committed snapshot is invalid, so apply will not change anything: {e.Problems[0]}";
                config = null;
            }
        }
        var status = StatusReader.Read(options.Node, policy, interfaces, config);
        if (config is not null)
        {
            var host = new HostState(config, options.Node, interfaces, status.Nics.Where(n => n.Ingress && n.Egress).Select(n => n.IfIndex).ToHashSet());
            status = status with { Subsystems = [.. subsystems.Select(s => s.Status(host))] };
        }
        return problem is null ? status : status with { Warnings = [problem, .. status.Warnings] };
    }

    private static PolicyConfig Prepare(PolicyConfig config)
    {
        (config, _) = Marks.AssignMissing(config);
        Validation.Ensure(config);
        return config;
    }

    private static IReadOnlyList<LinkInfo> LinksHere()
    {
        using var netlink = new RtNetlink();
        return netlink.GetLinks();
    }

    private static List<LocalInterface> Local(IEnumerable<LinkInfo> links) =>
        [.. links.Select(l => new LocalInterface(l.Name, l.IfIndex))];
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
