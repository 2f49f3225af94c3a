// The agent: turns a committed config into kernel state on this host. One instance per run
// (one-shot per event); the caller passes the snapshot it read.
using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Netlink;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent;

/// <summary>The outcome of `apply IFACE`: Skipped says why nothing was done (not a guest NIC,
/// no assignment); otherwise Result says what was.</summary>
public sealed record PlugOutcome(string Interface, string? Skipped, PolicyApplyResult? Result);

public sealed class MicrosegAgent(AgentOptions options, ILoggerFactory logs)
{
    private readonly PolicySubsystem policy = new(options, logs.CreateLogger("microseg.policy"));

    public AgentOptions Options => options;

    /// <summary>Full pass. An invalid config throws before the kernel is touched.</summary>
    public PolicyApplyResult Apply(PolicyConfig config)
    {
        config = Prepare(config);
        using var _ = SubsystemLock.Exclusive(policy.State.LockPath);
        return policy.Apply(PolicyPlan.ForHost(config, LocalInterfaces()));
    }

    /// <summary>The plug path: only this NIC. An unassigned NIC or a non-guest name is a no-op.</summary>
    public PlugOutcome ApplyInterface(PolicyConfig config, string name)
    {
        if (!GuestNic.TryParse(name, out var guest))
            return new PlugOutcome(name, "not a guest NIC name (tap{vmid}i{n} or veth{vmid}i{n})", null);
        config = Prepare(config);
        if (!config.Assignments.ContainsKey(guest.AssignmentId))
            return new PlugOutcome(name, $"no assignment {guest.AssignmentId}: not enforced", null);
        using var netlink = new RtNetlink();
        var link = netlink.GetLink(name) ?? throw new AgentException($"apply {name}: no such interface on this host; it is assigned ({guest.AssignmentId}) and cannot be enforced");
        var plan = PolicyPlan.ForInterface(config, new LocalInterface(link.Name, link.IfIndex))!;
        using (SubsystemLock.Shared(policy.State.LockPath))
        {
            if (policy.IsCurrent) return new PlugOutcome(name, null, policy.Plug(plan));
        }
        // Programs missing or from another build: a full pass (exclusive) covers this NIC too.
        using (SubsystemLock.Exclusive(policy.State.LockPath))
        {
            var result = policy.Apply(PolicyPlan.ForHost(config, LocalInterfaces()));
            return new PlugOutcome(name, null, result);
        }
    }

    /// <summary>Detaches everything and removes all pins and run state.</summary>
    public int Clear()
    {
        int links;
        using (SubsystemLock.Exclusive(policy.State.LockPath))
        {
            links = policy.Clear();
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
        using var netlink = new RtNetlink();
        var interfaces = netlink.GetLinks();
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
        return problem is null ? status : status with { Warnings = [problem, .. status.Warnings] };
    }

    private static PolicyConfig Prepare(PolicyConfig config)
    {
        (config, _) = Marks.AssignMissing(config);
        Validation.Ensure(config);
        return config;
    }

    private static List<LocalInterface> LocalInterfaces()
    {
        using var netlink = new RtNetlink();
        return [.. netlink.GetLinks().Select(l => new LocalInterface(l.Name, l.IfIndex))];
    }
}

/// <summary>An operation the agent cannot do, with a message for the user.</summary>
public sealed class AgentException(string message) : Exception(message);
