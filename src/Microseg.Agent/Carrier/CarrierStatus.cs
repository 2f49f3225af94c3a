// The carrier subsystem's status as data: its programs, each carrier interface of this node and
// whether both links are attached, the configured ones that are missing, and the vxlan devices.
using Microseg.Agent.Subsystems;

namespace Microseg.Agent.Carrier;

public sealed record CarrierInterfaceStatus(string Name, int IfIndex, bool Ingress, bool Egress);

/// <param name="Configured">Some carrier interface of this node exists here.</param>
public sealed record CarrierStatus(
    bool Loaded,
    string? Fingerprint,
    string BuildFingerprint,
    uint? IngressProgramId,
    uint? EgressProgramId,
    bool Configured,
    IReadOnlyList<CarrierInterfaceStatus> Interfaces,
    IReadOnlyList<string> Missing,
    IReadOnlyList<VxlanDevice> Vxlans,
    IReadOnlyList<string> Warnings) : SubsystemStatus(CarrierSubsystem.SubsystemName, Warnings);
