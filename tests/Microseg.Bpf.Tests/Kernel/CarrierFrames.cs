// Crafted frames for the carrier programs: Ethernet, any VLAN stack, IPv6, any chain of
// extension headers, a routing header of any type, then a payload; and an independent C#
// reading of where the SRH tag is, to hold the BPF parser against.
using System.Buffers.Binary;
using Microseg.Bpf.Abi;

namespace Microseg.Bpf.Tests.Kernel;

internal static class Ipv6Next
{
    public const byte HopByHop = 0;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Ipv6 = 41;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte Esp = 50;
    public const byte Ah = 51;
    public const byte NoNext = 59;
    public const byte DestinationOptions = 60;
}

/// <summary>One extension header: its type and its hdr_ext_len (length in 8-byte units, less one).</summary>
public readonly record struct Ext(byte Type, byte Length = 0)
{
    public int Bytes => (Length + 1) * 8;
    public static Ext HopByHop(byte length = 0) => new(Ipv6Next.HopByHop, length);
    public static Ext DestinationOptions(byte length = 0) => new(Ipv6Next.DestinationOptions, length);
}

internal sealed record CarrierFrame(byte[] Bytes, int? TagOffset)
{
    /// <summary>The tag the frame carries (network order on the wire), when it has an SRH.</summary>
    public ushort Tag => BinaryPrimitives.ReadUInt16BigEndian(Bytes.AsSpan(TagOffset!.Value));
}

internal static class CarrierFrames
{
    public const ushort Dot1Q = 0x8100, Dot1Ad = 0x88a8;

    /// <summary>Ethernet, <paramref name="vlans"/> (TPIDs, outermost first), IPv6, <paramref name="exts"/>,
    /// then a routing header of <paramref name="routingType"/> with one segment and <paramref name="tag"/>
    /// (none when <paramref name="routingType"/> is null), then an inner IPv6/UDP packet.</summary>
    public static CarrierFrame Build(
        IReadOnlyList<ushort>? vlans = null, IReadOnlyList<Ext>? exts = null, byte? routingType = CarrierAbi.SrhRoutingType,
        ushort tag = 0, int payload = 16, byte? afterExts = null)
    {
        vlans ??= [];
        exts ??= [];
        var bytes = new List<byte>();
        bytes.AddRange([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
        foreach (var tpid in vlans)
        {
            bytes.AddRange(Be16(tpid));
            bytes.AddRange(Be16((ushort)(100 + bytes.Count))); // the TCI of the tag: any id
        }
        bytes.AddRange(Be16(0x86dd));
        int ipv6 = bytes.Count;
        var header = new byte[40];
        header[0] = 0x60;
        header[7] = 64;
        header[8] = 0xfd; header[23] = 1;  // fd00::1
        header[24] = 0xfc; header[39] = 4; // fc00::4
        bytes.AddRange(header);

        byte last = routingType is null ? (afterExts ?? Ipv6Next.Udp) : Ipv6Next.Routing;
        var chain = exts.Select(e => e.Type).Append(last).ToList();
        bytes[ipv6 + 6] = chain[0];
        for (int i = 0; i < exts.Count; i++)
        {
            var ext = new byte[exts[i].Bytes];
            ext[0] = chain[i + 1];
            ext[1] = exts[i].Length;
            ext[2] = 1; // PadN over the rest
            ext[3] = (byte)Math.Min(255, ext.Length - 4);
            bytes.AddRange(ext);
        }
        int? tagOffset = null;
        if (routingType is { } type)
        {
            var srh = new byte[24];
            srh[0] = Ipv6Next.Ipv6;
            srh[1] = 2;
            srh[2] = type;
            BinaryPrimitives.WriteUInt16BigEndian(srh.AsSpan(6), tag);
            srh[8] = 0xfc; srh[23] = 4;
            tagOffset = bytes.Count + 6;
            bytes.AddRange(srh);
            var inner = new byte[40 + 8 + payload];
            inner[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(inner.AsSpan(4), (ushort)(8 + payload));
            inner[6] = Ipv6Next.Udp;
            inner[7] = 64;
            bytes.AddRange(inner);
        }
        else
            bytes.AddRange(new byte[8 + payload]);
        var frame = bytes.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(ipv6 + 4), (ushort)(frame.Length - ipv6 - 40));
        return new CarrierFrame(frame, routingType == CarrierAbi.SrhRoutingType ? tagOffset : null);
    }

    private static byte[] Be16(ushort value) => [(byte)(value >> 8), (byte)value];

    /// <summary>Where the carrier must find the SRH tag, read by the rules of SPEC §5.2 and
    /// abi.h's bounds, independently of the BPF code: null when the frame is to be left alone.</summary>
    public static int? ExpectedTagOffset(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14) return null;
        int off = 12;
        ushort proto = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        off += 2;
        for (int i = 0; i < CarrierAbi.MaxVlanTags && proto is Dot1Q or Dot1Ad; i++)
        {
            if (frame.Length < off + 4) return null;
            proto = BinaryPrimitives.ReadUInt16BigEndian(frame[(off + 2)..]);
            off += 4;
        }
        if (proto != 0x86dd || frame.Length < off + 40) return null;
        byte next = frame[off + 6];
        off += 40;
        for (int seen = 0; ; seen++)
        {
            if (next == Ipv6Next.Routing)
            {
                if (frame.Length < off + 8 || frame[off + 2] != CarrierAbi.SrhRoutingType) return null;
                return off + 6;
            }
            if (seen == CarrierAbi.MaxExtensionHeaders || next is not (Ipv6Next.HopByHop or Ipv6Next.DestinationOptions)) return null;
            if (frame.Length < off + 2) return null;
            next = frame[off];
            off += (frame[off + 1] + 1) * 8;
        }
    }
}
