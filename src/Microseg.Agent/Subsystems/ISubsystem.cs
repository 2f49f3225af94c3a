// The one shape of the agent's subsystems (policy, carrier, forwarder): each owns its pins under
// <bpffs>/<name>/ and its run state under <run-dir>/<name>/, takes its own lock, and is driven by
// apply, apply IFACE, clear and status in the order the agent registers them.
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Agent.Subsystems;

/// <summary>What a subsystem sees of this host: the validated snapshot (empty when there is
/// none, see HasSnapshot), the node name, the interfaces present, and the NICs an earlier
/// subsystem (policy) enforces here.</summary>
public sealed record HostState(PolicyConfig Config, string Node, IReadOnlyList<LinkInfo> Links, IReadOnlySet<int> EnforcedIfIndexes)
{
    /// <summary>False when no valid snapshot was committed: status then shows only what is loaded.</summary>
    public bool HasSnapshot { get; init; } = true;

    /// <summary>The committed snapshot file's stamp (FileStamp) when the caller read it from a
    /// file and it did not change during the read; null otherwise. The policy's plug index is
    /// versioned with it.</summary>
    public string? SnapshotStamp { get; init; }

    public LinkInfo? Link(string name) => Links.FirstOrDefault(l => l.Name == name);
}

/// <summary>The outcome of one call. Errors make the command exit non-zero (fail closed);
/// warnings are printed and logged but do not.</summary>
public record SubsystemReport(string Subsystem, string Summary, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings)
{
    /// <summary>A subsystem that could not run at all (it could not load, the kernel refused).</summary>
    public static SubsystemReport Failure(string subsystem, string error) => new(subsystem, "not applied", [error], []);

    /// <summary>The plug path: the interface is not this subsystem's, and Summary says why.</summary>
    public static SubsystemReport Skip(string subsystem, string why) => new(subsystem, why, [], []) { Skipped = true };

    public bool Skipped { get; init; }

    /// <summary>The host state the subsystems after this one see.</summary>
    public virtual HostState Advance(HostState host) => host;
}

/// <summary>A subsystem's status as data; the CLI and the API render it.</summary>
public abstract record SubsystemStatus(string Name, IReadOnlyList<string> Warnings)
{
    /// <summary>The host state the subsystems after this one see.</summary>
    public virtual HostState Advance(HostState host) => host;
}

public interface ISubsystem
{
    /// <summary>Directory name under the bpffs root and the run dir ("policy", "carrier", "forwarder").</summary>
    string Name { get; }

    /// <summary>Full pass: make the kernel match the config for this node; remove what is stale.</summary>
    SubsystemReport Apply(HostState host);

    /// <summary>Plug path for one interface that appeared; null (or a Skip that says why) when
    /// it is none of this subsystem's business.</summary>
    SubsystemReport? Plug(HostState host, string name);

    /// <summary>Detaches everything and removes every pin, the run state and the lock file.</summary>
    int Clear();

    /// <summary>What is loaded; null when there is nothing to show without a snapshot.</summary>
    SubsystemStatus? Status(HostState host);
}
