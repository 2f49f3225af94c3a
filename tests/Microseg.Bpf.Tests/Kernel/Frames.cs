// Real frames for BPF_PROG_TEST_RUN: Ethernet + IPv4 (valid header checksum) + UDP.
using System.Buffers.Binary;

namespace Microseg.Bpf.Tests.Kernel;

internal static class Frames
{
    public static byte[] Ipv4Udp(byte[] srcIp, byte[] dstIp, ushort srcPort = 40000, ushort dstPort = 5201, int payload = 18)
    {
        var frame = new byte[14 + 20 + 8 + payload];
        var eth = frame.AsSpan(0, 14);
        new byte[] { 0x02, 0, 0, 0, 0, 0x02 }.CopyTo(eth); // dst MAC
        new byte[] { 0x02, 0, 0, 0, 0, 0x01 }.CopyTo(eth[6..]); // src MAC
        BinaryPrimitives.WriteUInt16BigEndian(eth[12..], 0x0800);

        var ip = frame.AsSpan(14, 20);
        ip[0] = 0x45; // version 4, IHL 5
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234); // id
        ip[8] = 64; // ttl
        ip[9] = 17; // UDP
        srcIp.CopyTo(ip[12..]);
        dstIp.CopyTo(ip[16..]);
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)~sum);

        var udp = frame.AsSpan(34, 8);
        BinaryPrimitives.WriteUInt16BigEndian(udp, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload));
        return frame;
    }

    public static byte[] Guest1ToGuest2() => Ipv4Udp([10, 0, 0, 1], [10, 0, 0, 2]);
}
