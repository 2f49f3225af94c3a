// An SRv6 packet as a guest builds it itself (it can: it owns its NIC): Ethernet, IPv6,
// optional hop-by-hop / destination-options headers, a one-segment SRH with a tag of the
// guest's choosing, and an inner IPv4/UDP datagram for the End.DX4 at the segment to deliver.
using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;

namespace Microseg.Lab;

/// <summary>An IPv6 extension header placed before the SRH.</summary>
public enum ExtensionHeader : byte
{
    HopByHop = 0,
    DestinationOptions = 60,
}

public static class Srv6Frame
{
    public const byte RoutingHeader = 43;
    public const byte IpInIp = 4;

    public static byte[] Build(
        string srcMac, string dstMac, IPAddress source, IPAddress segment, ushort tag,
        IReadOnlyList<ExtensionHeader> before, IPAddress innerSource, IPAddress innerDestination, ushort port, ReadOnlySpan<byte> payload)
    {
        int udpLength = 8 + payload.Length;
        int innerLength = 20 + udpLength;
        int srhLength = 8 + 16;
        int ipv6Payload = (8 * before.Count) + srhLength + innerLength;
        var frame = new byte[14 + 40 + ipv6Payload];
        var span = frame.AsSpan();

        PhysicalAddress.Parse(dstMac.Replace(':', '-')).GetAddressBytes().CopyTo(span);
        PhysicalAddress.Parse(srcMac.Replace(':', '-')).GetAddressBytes().CopyTo(span[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[12..], 0x86dd);

        var ip6 = span.Slice(14, 40);
        ip6[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip6[4..], (ushort)ipv6Payload);
        ip6[6] = before.Count > 0 ? (byte)before[0] : RoutingHeader;
        ip6[7] = 64;
        source.GetAddressBytes().CopyTo(ip6[8..]);
        segment.GetAddressBytes().CopyTo(ip6[24..]);

        int offset = 54;
        for (int i = 0; i < before.Count; i++)
        {
            // 8 bytes: next header, length 0 (8 bytes in all), a PadN option filling the rest.
            span[offset] = i + 1 < before.Count ? (byte)before[i + 1] : RoutingHeader;
            span[offset + 1] = 0;
            span[offset + 2] = 1;
            span[offset + 3] = 4;
            offset += 8;
        }

        var srh = span.Slice(offset, srhLength);
        srh[0] = IpInIp;
        srh[1] = 2; // 16 bytes of segments
        srh[2] = 4; // Segment Routing Header
        srh[3] = 0; // segments left: the first segment is the last
        srh[4] = 0; // last entry
        BinaryPrimitives.WriteUInt16BigEndian(srh[6..], tag);
        segment.GetAddressBytes().CopyTo(srh[8..]);
        offset += srhLength;

        var ip4 = span.Slice(offset, 20);
        ip4[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip4[2..], (ushort)innerLength);
        ip4[8] = 64;
        ip4[9] = 17;
        innerSource.GetAddressBytes().CopyTo(ip4[12..]);
        innerDestination.GetAddressBytes().CopyTo(ip4[16..]);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip4[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip4[10..], (ushort)~sum);
        offset += 20;

        var udp = span.Slice(offset, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        // Checksum 0: none, which IPv4 allows.
        payload.CopyTo(udp[8..]);
        return frame;
    }
}
