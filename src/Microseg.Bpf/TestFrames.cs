// Ethernet frames for BPF_PROG_TEST_RUN: IPv4 (with a valid header checksum, options and
// fragments) or IPv6 (with extension headers), carrying TCP, UDP, SCTP, ICMP or ICMPv6
// headers, ARP. Enough of each header for a program that parses it; transport checksums are
// left 0 (no program of ours reads them).
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Microseg.Bpf;

[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
}

/// <summary>How the IP header of a test frame is shaped beyond its addresses and protocol.</summary>
/// <param name="FragmentOffset">IPv4: the fragment offset in 8-byte units (0 = first or
/// unfragmented). IPv6: with a value other than null, a fragment header carries it.</param>
/// <param name="MoreFragments">The more-fragments flag.</param>
/// <param name="Ipv4OptionWords">IPv4 options (no-ops), in 4-byte words: IHL = 5 + this.</param>
/// <param name="Ipv6ExtensionHeaders">IPv6 extension headers before the transport header (and
/// before the fragment header, if any), by protocol number: 0 hop-by-hop, 60 destination
/// options, 43 routing (8 bytes each), 51 AH (12 bytes).</param>
public sealed record IpShape(ushort? FragmentOffset = null, bool MoreFragments = false, int Ipv4OptionWords = 0,
                             byte[]? Ipv6ExtensionHeaders = null)
{
    public static readonly IpShape Plain = new();
}

public static class TestFrames
{
    public const byte Tcp = 6, Udp = 17, Sctp = 132, Icmp = 1, Icmpv6 = 58;

    private static readonly byte[] GuestMac = [0x02, 0, 0, 0, 0, 0x02];
    private static readonly byte[] PeerMac = [0x02, 0, 0, 0, 0, 0x01];

    public static byte[] UdpPacket(IPAddress src, IPAddress dst, ushort sport, ushort dport, int payload = 18, IpShape? shape = null) =>
        Frame(IpPacket(src, dst, Udp, UdpHeader(sport, dport, payload), shape));

    public static byte[] TcpPacket(IPAddress src, IPAddress dst, ushort sport, ushort dport, TcpFlags flags, IpShape? shape = null) =>
        Frame(IpPacket(src, dst, Tcp, TcpHeader(sport, dport, flags), shape));

    public static byte[] SctpPacket(IPAddress src, IPAddress dst, ushort sport, ushort dport) =>
        Frame(IpPacket(src, dst, Sctp, SctpHeader(sport, dport)));

    /// <summary>ICMP (IPv4) or ICMPv6 echo request or reply, by the addresses' family.</summary>
    public static byte[] EchoPacket(IPAddress src, IPAddress dst, bool request, ushort id, ushort sequence = 1)
    {
        bool v4 = src.AddressFamily == AddressFamily.InterNetwork;
        byte type = v4 ? (byte)(request ? 8 : 0) : (byte)(request ? 128 : 129);
        var icmp = new byte[8 + 16];
        icmp[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), sequence);
        return Frame(IpPacket(src, dst, v4 ? Icmp : Icmpv6, icmp));
    }

    /// <summary>An ICMP or ICMPv6 message of any type with 4 bytes of rest-of-header and a body
    /// (for errors: the quoted IP packet, <see cref="IpPacketOf"/> of the frame it is about).</summary>
    public static byte[] IcmpPacket(IPAddress src, IPAddress dst, byte type, byte code, ReadOnlySpan<byte> body = default, uint rest = 0)
    {
        bool v4 = src.AddressFamily == AddressFamily.InterNetwork;
        var icmp = new byte[8 + body.Length];
        icmp[0] = type;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(icmp.AsSpan(4), rest);
        body.CopyTo(icmp.AsSpan(8));
        return Frame(IpPacket(src, dst, v4 ? Icmp : Icmpv6, icmp));
    }

    /// <summary>A packet of any IP protocol with an opaque 8-byte payload.</summary>
    public static byte[] RawPacket(IPAddress src, IPAddress dst, byte proto, IpShape? shape = null) =>
        Frame(IpPacket(src, dst, proto, new byte[8], shape));

    /// <summary>An ARP request for <paramref name="target"/>.</summary>
    public static byte[] ArpRequest(IPAddress sender, IPAddress target)
    {
        var arp = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(arp, 1);          // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(2), 0x0800);
        arp[4] = 6; arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(6), 1); // request
        PeerMac.CopyTo(arp, 8);
        sender.GetAddressBytes().CopyTo(arp, 14);
        target.GetAddressBytes().CopyTo(arp, 24);
        return Ethernet(0x0806, arp);
    }

    /// <summary>The IP packet (no Ethernet header) inside a frame: what an ICMP error quotes.</summary>
    public static byte[] IpPacketOf(byte[] frame) => frame[14..];

    public static byte[] Frame(byte[] ipPacket) =>
        Ethernet((ipPacket[0] >> 4) == 4 ? (ushort)0x0800 : (ushort)0x86dd, ipPacket);

    public static byte[] Ethernet(ushort etherType, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[14 + payload.Length];
        GuestMac.CopyTo(frame, 0);
        PeerMac.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), etherType);
        payload.CopyTo(frame.AsSpan(14));
        return frame;
    }

    public static byte[] IpPacket(IPAddress src, IPAddress dst, byte proto, ReadOnlySpan<byte> l4, IpShape? shape = null)
    {
        ArgumentNullException.ThrowIfNull(src);
        ArgumentNullException.ThrowIfNull(dst);
        if (src.AddressFamily != dst.AddressFamily)
            throw new ArgumentException($"{src} and {dst} are of different families");
        shape ??= IpShape.Plain;
        return src.AddressFamily == AddressFamily.InterNetwork ? Ipv4(src, dst, proto, l4, shape) : Ipv6(src, dst, proto, l4, shape);
    }

    public static byte[] UdpHeader(ushort sport, ushort dport, int payload = 18)
    {
        var udp = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        return udp;
    }

    public static byte[] TcpHeader(ushort sport, ushort dport, TcpFlags flags)
    {
        var tcp = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 1000); // sequence
        tcp[12] = 5 << 4; // data offset: 5 words
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 65535); // window
        return tcp;
    }

    public static byte[] SctpHeader(ushort sport, ushort dport)
    {
        var sctp = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(sctp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(sctp.AsSpan(2), dport);
        return sctp;
    }

    private static byte[] Ipv4(IPAddress src, IPAddress dst, byte proto, ReadOnlySpan<byte> l4, IpShape shape)
    {
        int header = 20 + 4 * shape.Ipv4OptionWords;
        var ip = new byte[header + l4.Length];
        ip[0] = (byte)(0x40 | (header / 4));
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), 0x1234); // id
        ushort frag = (ushort)((shape.FragmentOffset ?? 0) & 0x1fff);
        if (shape.MoreFragments) frag |= 0x2000;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), frag);
        ip[8] = 64; // ttl
        ip[9] = proto;
        src.GetAddressBytes().CopyTo(ip, 12);
        dst.GetAddressBytes().CopyTo(ip, 16);
        ip.AsSpan(20, header - 20).Fill(1); // no-op options
        uint sum = 0;
        for (int i = 0; i < header; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(i));
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), (ushort)~sum);
        l4.CopyTo(ip.AsSpan(header));
        return ip;
    }

    private static byte[] Ipv6(IPAddress src, IPAddress dst, byte proto, ReadOnlySpan<byte> l4, IpShape shape)
    {
        var chain = new List<(byte Type, byte[] Header)>();
        foreach (byte type in shape.Ipv6ExtensionHeaders ?? [])
            chain.Add((type, type == 51 ? new byte[12] : new byte[8]));
        if (shape.FragmentOffset is ushort offset)
        {
            var frag = new byte[8];
            BinaryPrimitives.WriteUInt16BigEndian(frag.AsSpan(2), (ushort)((offset << 3) | (shape.MoreFragments ? 1 : 0)));
            BinaryPrimitives.WriteUInt32BigEndian(frag.AsSpan(4), 0x1234);
            chain.Add((44, frag));
        }
        int extLength = chain.Sum(c => c.Header.Length);
        var ip = new byte[40 + extLength + l4.Length];
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), (ushort)(extLength + l4.Length));
        ip[6] = chain.Count > 0 ? chain[0].Type : proto;
        ip[7] = 64; // hop limit
        src.GetAddressBytes().CopyTo(ip, 8);
        dst.GetAddressBytes().CopyTo(ip, 24);
        int at = 40;
        for (int i = 0; i < chain.Count; i++)
        {
            var (type, header) = chain[i];
            header[0] = i + 1 < chain.Count ? chain[i + 1].Type : proto;
            if (type != 44) header[1] = type == 51 ? (byte)(header.Length / 4 - 2) : (byte)(header.Length / 8 - 1);
            header.CopyTo(ip, at);
            at += header.Length;
        }
        l4.CopyTo(ip.AsSpan(at));
        return ip;
    }
}
