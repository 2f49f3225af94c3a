// The C# side of the forwarder section of bpf/include/abi.h and the names forwarder.bpf.o
// exposes. Layout-tested against the header; a change here is a change there and bumps
// SchemaVersion.
using System.Runtime.InteropServices;

namespace Microseg.Bpf.Abi;

public static class ForwarderAbi
{
    /// <summary>FORWARDER_SCHEMA_VERSION: the layout of the forwarder's pinned maps.</summary>
    public const int SchemaVersion = 1;

    public const int VlanMin = 1;
    public const int VlanMax = 4094;

    public const int PortsMaxEntries = 4096;
    public const int RoutersMaxEntries = 256;
    public const int VlansMaxEntries = 4096;

    public const string ObjectFile = "forwarder.bpf.o";
    public const string PortsMap = "fwd_ports";
    public const string RoutersMap = "fwd_routers";
    public const string VlansMap = "fwd_vlans";
    public const string PhysicalProgram = "forwarder_physical";
    public const string RouterProgram = "forwarder_router";
    public const string PassProgram = "forwarder_pass";
}

/// <summary>struct fwd_port, the value of fwd_ports (keyed by the uint ifindex of a physical
/// interface): the router its frames go to and the VLAN id they are tagged with.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct ForwarderPort(uint RouterIfIndex, ushort VlanId, ushort Flags = 0)
{
    public readonly uint RouterIfIndex = RouterIfIndex;
    public readonly ushort VlanId = VlanId;
    public readonly ushort Flags = Flags;
}
