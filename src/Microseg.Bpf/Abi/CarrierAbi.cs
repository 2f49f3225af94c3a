// The C# side of the carrier section of bpf/include/abi.h and the names carrier.bpf.o exposes.
// Layout-tested against the header; a change here is a change there.
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Microseg.Bpf.Abi;

public static class CarrierAbi
{
    /// <summary>CARRIER_SCHEMA_VERSION: the pinned layout of the carrier subsystem.</summary>
    public const int SchemaVersion = 1;

    /// <summary>SRH_ROUTING_TYPE: the IPv6 routing header type of a Segment Routing Header.</summary>
    public const byte SrhRoutingType = 4;

    /// <summary>CARRIER_MAX_VLAN_TAGS: 802.1Q/802.1ad tags parsed in the frame's data.</summary>
    public const int MaxVlanTags = 2;

    /// <summary>CARRIER_MAX_EXT_HEADERS: hop-by-hop or destination-options headers walked before the SRH.</summary>
    public const int MaxExtensionHeaders = 8;

    /// <summary>CARRIER_PARSE_LIMIT: the most bytes the parse reads.</summary>
    public const int ParseLimit = 14 + (4 * MaxVlanTags) + 40 + (2048 * MaxExtensionHeaders) + 8;

    public const string ObjectFile = "carrier.bpf.o";
    public const string IngressProgram = "carrier_ingress";
    public const string EgressProgram = "carrier_egress";
}

/// <summary>struct srh_fixed: the first 8 bytes of an SRv6 Segment Routing Header (RFC 8754).
/// Tag is kept as it is on the wire (network byte order); <see cref="GroupTag"/> reads it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SrhFixed
{
    public byte NextHeader;
    public byte HdrExtLen;
    public byte RoutingType;
    public byte SegmentsLeft;
    public byte LastEntry;
    public byte Flags;
    public ushort Tag;

    /// <summary>The tag in host byte order: the group the carrier put there.</summary>
    public readonly ushort GroupTag => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(Tag) : Tag;
}
