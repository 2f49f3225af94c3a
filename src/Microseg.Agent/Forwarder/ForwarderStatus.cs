// The forwarder subsystem's status as data: its programs and maps, and every router and
// physical interface of every forwarder here with whether it is attached.
using Microseg.Agent.Subsystems;
using Microseg.Bpf;

namespace Microseg.Agent.Forwarder;

/// <summary>One port, in the order status shows them: each router, then its physical interfaces.</summary>
public sealed record ForwarderPortStatus(string Forwarder, PortRole Role, string Interface, int IfIndex, ushort? Vlan, XdpMode Mode, bool Attached);

/// <param name="Configured">Some forwarder's router is on this host.</param>
public sealed record ForwarderStatus(
    bool Loaded,
    bool Configured,
    string? Fingerprint,
    int? Schema,
    string BuildFingerprint,
    int BuildSchema,
    uint? PhysicalProgramId,
    uint? RouterProgramId,
    int PortEntries,
    int VlanEntries,
    int RouterEntries,
    IReadOnlyList<ForwarderPortStatus> Ports,
    IReadOnlyList<string> Warnings) : SubsystemStatus(ForwarderSubsystem.SubsystemName, Warnings);
