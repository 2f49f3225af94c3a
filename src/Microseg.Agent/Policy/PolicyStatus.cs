// What the policy subsystem reports: the outcome of an apply (or plug) and its status, as data.
using Microseg.Agent.Subsystems;
using Microseg.Bpf;

namespace Microseg.Agent.Policy;

/// <summary>What one apply did. Failed NICs are enforced nowhere: the caller exits non-zero.</summary>
public sealed record PolicyApplyResult(
    LoadOutcome Load,
    IReadOnlyList<EnforcedNic> Enforced,
    IReadOnlyList<(EnforcedNic Nic, string Error)> Failed,
    int NicEntriesWritten, int NicEntriesRemoved,
    int VerdictsWritten, int VerdictsRemoved,
    int LinksCreated, int LinksUpdated, int LinksRemoved)
{
    /// <summary>Service entries written and removed.</summary>
    public int ServicesWritten { get; init; }

    /// <summary>A full apply: the digests of what it wanted in nic_group, verdicts and services
    /// (the plug index records them for the next full apply).</summary>
    internal (MapDigest NicGroup, MapDigest Verdicts, MapDigest Services)? Desired { get; init; }

    public int ServicesRemoved { get; init; }

    /// <summary>Flows of NICs that left the host, removed with them.</summary>
    public int FlowsRemoved { get; init; }
}

/// <summary>The policy's report: the NICs it enforces reach the subsystems after it.</summary>
public sealed record PolicyReport(PolicyApplyResult Result) : SubsystemReport(PolicySubsystem.SubsystemName,
    $"programs {Result.Load.ToString().ToLowerInvariant()}; enforced {Result.Enforced.Count} NIC{(Result.Enforced.Count == 1 ? "" : "s")}" +
        (Result.Enforced.Count > 0 ? ": " + string.Join(", ", Result.Enforced.Select(n => $"{n.Name} ({n.Group})")) : ""),
    [.. Result.Failed.Select(f => $"cannot enforce {f.Nic.Name} ({f.Nic.AssignmentId}, group {f.Nic.Group}): {f.Error}")], [])
{
    public override HostState Advance(HostState host) => host with { EnforcedIfIndexes = Result.Enforced.Select(n => n.IfIndex).ToHashSet() };
}

/// <summary>How full the verdict map is, against the bound that always fits.</summary>
/// <param name="Words">Verdict words (map entries) in use.</param>
/// <param name="MaxWords">Entries the map holds: <paramref name="MaxDestinations"/> × 1,024.</param>
/// <param name="Destinations">Local destination groups: distinct groups of the NICs in nic_group.</param>
/// <param name="MaxDestinations">Local destination groups that always fit, whatever the rules.</param>
/// <param name="MemlockBytes">The kernel's memory figure for the map ("memlock" in
/// /proc/self/fdinfo of its fd); null when the kernel gives none.</param>
public sealed record VerdictMapFill(int Words, int MaxWords, int Destinations, int MaxDestinations, long? MemlockBytes);

public sealed record NicStatus(int IfIndex, string? Interface, ushort Mark, string? Group, bool Ingress, bool Egress);

public sealed record PolicyStatus(
    bool Loaded,
    string? Fingerprint,
    int? Schema,
    string BuildFingerprint,
    int BuildSchema,
    uint? IngressProgramId,
    uint? EgressProgramId,
    int NicGroupEntries,
    int VerdictEntries,
    IReadOnlyList<NicStatus> Nics,
    IReadOnlyList<string> Warnings) : SubsystemStatus(PolicySubsystem.SubsystemName, Warnings)
{
    /// <summary>The verdict map's fill and bound; null when nothing is loaded.</summary>
    public VerdictMapFill? VerdictMap { get; init; }

    /// <summary>Entries of the services map (one per group pair and protocol that rules with a
    /// service name).</summary>
    public int ServiceEntries { get; init; }

    /// <summary>The flow table's fill, size and memory; null when nothing is loaded.</summary>
    public FlowTableFill? FlowTable { get; init; }

    /// <summary>The attach mode in effect (tcx or tc) and, in a few words, why ("forced",
    /// "auto: kernel 6.18.44-fc-v782 has tcx").</summary>
    public AttachMode Attach { get; init; } = AttachMode.Tcx;

    public string AttachReason { get; init; } = "";

    /// <summary>The NICs attached both ways are the enforced ones the later subsystems see.</summary>
    public override HostState Advance(HostState host) =>
        host with { EnforcedIfIndexes = Nics.Where(n => n.Ingress && n.Egress).Select(n => n.IfIndex).ToHashSet() };
}
