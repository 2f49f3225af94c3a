// The shared shape of the agent's subsystems beyond policy (carrier, forwarder): each owns its
// pins under <bpffs>/<name>/ and its run state under <run-dir>/<name>/, and is driven by
// apply, apply IFACE, clear and status. The agent takes the subsystem's lock around each call.
using System.Text.Json;
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Agent.Subsystems;

/// <summary>What a subsystem sees of this host: the validated snapshot, the node name, the
/// interfaces present, and the NICs the policy subsystem enforces here.</summary>
public sealed record HostState(PolicyConfig Config, string Node, IReadOnlyList<LinkInfo> Links, IReadOnlySet<int> EnforcedIfIndexes);

/// <summary>The outcome of one call. Errors make the command exit non-zero (fail closed);
/// warnings are printed and logged but do not.</summary>
public sealed record SubsystemReport(string Summary, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings)
{
    public static SubsystemReport Nothing(string summary) => new(summary, [], []);
}

/// <summary>Status: human lines ("key: value"), warnings, and the same as a JSON object.</summary>
public sealed record SubsystemStatus(string Name, IReadOnlyList<string> Lines, IReadOnlyList<string> Warnings, Action<Utf8JsonWriter> WriteJson);

public interface ISubsystem
{
    /// <summary>Directory name under the bpffs root and the run dir ("carrier", "forwarder").</summary>
    string Name { get; }

    /// <summary>Full pass: make the kernel match the config for this node; remove what is stale.</summary>
    SubsystemReport Apply(HostState host);

    /// <summary>Plug path for one interface that appeared; null when it is none of this subsystem's business.</summary>
    SubsystemReport? Plug(HostState host, LinkInfo link);

    /// <summary>Detaches everything and removes every pin and run file of the subsystem.</summary>
    int Clear();

    SubsystemStatus Status(HostState host);
}
