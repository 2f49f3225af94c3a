// Probes of stateful replies between two lab guests: a UDP request and its response, a UDP
// datagram to a closed port (the ICMP port unreachable coming back is related to the sender's
// flow), and packets that only look like replies (a TCP ACK, a UDP datagram, an ICMP error) sent
// without any flow, watched for at the receiver with a raw socket (which sees a packet whatever
// the protocol layer then does with it).
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microseg.Netlink;

namespace Microseg.Lab;

public sealed class FlowProbes(Lab lab)
{
    private static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(700);

    /// <summary>src sends a UDP request to dst:<paramref name="port"/>, dst answers from that
    /// port. (request arrived, response arrived).</summary>
    public (bool Request, bool Response) UdpExchange(LabGuest src, LabGuest dst, int port)
    {
        using var server = InGuest(dst, () => Udp(new IPEndPoint(dst.Ip, port)));
        using var client = InGuest(src, () => Udp(new IPEndPoint(src.Ip, 0)));
        client.SendTo("ping"u8.ToArray(), new IPEndPoint(dst.Ip, port));
        var buffer = new byte[64];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        if (!server.Poll(Wait, SelectMode.SelectRead)) return (false, false);
        server.ReceiveFrom(buffer, ref from);
        server.SendTo("pong"u8.ToArray(), from);
        return (true, client.Poll(Wait, SelectMode.SelectRead) && client.Receive(buffer) == 4);
    }

    /// <summary>Does a TCP connect from src to dst:<paramref name="port"/> complete (dst listening)?</summary>
    public bool TcpConnects(LabGuest src, LabGuest dst, int port)
    {
        using var listener = InGuest(dst, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.Bind(new IPEndPoint(dst.Ip, port));
            s.Listen(4);
            return s;
        });
        using var client = InGuest(src, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { LingerState = new LingerOption(true, 0) });
        var connect = client.ConnectAsync(new IPEndPoint(dst.Ip, port));
        return Task.WhenAny(connect, Task.Delay(TimeSpan.FromSeconds(1))).Result == connect && connect.IsCompletedSuccessfully;
    }

    /// <summary>src sends a UDP datagram to a port of dst where nothing listens: true when the
    /// ICMP port unreachable dst's kernel answers reaches src (a connected socket reports it as
    /// "connection refused").</summary>
    public bool PortUnreachableReturns(LabGuest src, LabGuest dst, int closedPort)
    {
        using var client = InGuest(src, () => Udp(new IPEndPoint(src.Ip, 0)));
        client.Connect(new IPEndPoint(dst.Ip, closedPort));
        client.Send("knock"u8.ToArray());
        if (!client.Poll(Wait, SelectMode.SelectError) && !client.Poll(TimeSpan.Zero, SelectMode.SelectRead)) return false;
        try
        {
            client.Receive(new byte[16]);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
    }

    /// <summary>src sends a TCP segment with only ACK set to dst:<paramref name="dport"/> from
    /// <paramref name="sport"/> (no connection, no flow): did it reach dst?</summary>
    public bool BareTcpAckArrives(LabGuest src, LabGuest dst, ushort sport, ushort dport)
    {
        var segment = TcpAck(src.Ip, dst.Ip, sport, dport);
        return RawArrives(src, dst, ProtocolType.Tcp, segment, seen => seen.Length >= 20 &&
            BinaryPrimitives.ReadUInt16BigEndian(seen.AsSpan(IpHeaderLength(seen))) == sport &&
            BinaryPrimitives.ReadUInt16BigEndian(seen.AsSpan(IpHeaderLength(seen) + 2)) == dport);
    }

    /// <summary>src sends dst an ICMP port unreachable about a UDP datagram dst:<paramref name="dport"/>
    /// → src:<paramref name="sport"/> that dst never sent: did it reach dst?</summary>
    public bool UnsolicitedIcmpErrorArrives(LabGuest src, LabGuest dst, ushort sport, ushort dport)
    {
        var error = PortUnreachable(embeddedSrc: dst.Ip, embeddedDst: src.Ip, embeddedSport: dport, embeddedDport: sport);
        return RawArrives(src, dst, ProtocolType.Icmp, error, seen =>
        {
            int h = IpHeaderLength(seen);
            return seen.Length >= h + 8 + 28 && seen[h] == 3 && seen[h + 1] == 3 &&
                BinaryPrimitives.ReadUInt16BigEndian(seen.AsSpan(h + 8 + 20)) == dport;
        });
    }

    /// <summary>src sends a UDP datagram from <paramref name="sport"/> to dst:<paramref name="dport"/>
    /// where dst listens, without dst ever having sent to src:<paramref name="sport"/>: did it arrive?</summary>
    public bool UdpArrives(LabGuest src, LabGuest dst, int sport, int dport)
    {
        using var receiver = InGuest(dst, () => Udp(new IPEndPoint(dst.Ip, dport)));
        using var sender = InGuest(src, () => Udp(new IPEndPoint(src.Ip, sport)));
        sender.SendTo("reply?"u8.ToArray(), new IPEndPoint(dst.Ip, dport));
        return receiver.Poll(Wait, SelectMode.SelectRead);
    }

    private bool RawArrives(LabGuest src, LabGuest dst, ProtocolType protocol, byte[] payload, Func<byte[], bool> isIt)
    {
        using var watcher = InGuest(dst, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, protocol));
        using var sender = InGuest(src, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, protocol));
        sender.SendTo(payload, new IPEndPoint(dst.Ip, 0));
        var deadline = DateTime.UtcNow + Wait;
        var buffer = new byte[2048];
        while (DateTime.UtcNow < deadline)
        {
            if (!watcher.Poll(TimeSpan.FromMilliseconds(50), SelectMode.SelectRead)) continue;
            int n = watcher.Receive(buffer);
            if (isIt(buffer[..n])) return true;
        }
        return false;
    }

    private static int IpHeaderLength(byte[] packet) => (packet[0] & 0x0f) * 4;

    private static Socket Udp(IPEndPoint bind)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(bind);
        return s;
    }

    /// <summary>A 20-byte TCP header, ACK only, with its checksum over the IPv4 pseudo-header.</summary>
    public static byte[] TcpAck(IPAddress src, IPAddress dst, ushort sport, ushort dport)
    {
        var tcp = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 0x1000);   // sequence
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(8), 0x2000);   // acknowledgement
        tcp[12] = 5 << 4;                                                // data offset: 5 words
        tcp[13] = 0x10;                                                  // ACK
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 65535);   // window
        var pseudo = new byte[12 + tcp.Length];
        src.GetAddressBytes().CopyTo(pseudo, 0);
        dst.GetAddressBytes().CopyTo(pseudo, 4);
        pseudo[9] = 6;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.AsSpan(10), (ushort)tcp.Length);
        tcp.CopyTo(pseudo, 12);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(16), Checksum(pseudo));
        return tcp;
    }

    /// <summary>ICMP destination unreachable / port unreachable quoting an IPv4+UDP header of a
    /// datagram embeddedSrc:embeddedSport → embeddedDst:embeddedDport.</summary>
    public static byte[] PortUnreachable(IPAddress embeddedSrc, IPAddress embeddedDst, ushort embeddedSport, ushort embeddedDport)
    {
        var icmp = new byte[8 + 20 + 8];
        icmp[0] = 3; // destination unreachable
        icmp[1] = 3; // port unreachable
        var ip = icmp.AsSpan(8, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 20 + 8 + 6);
        ip[8] = 64;
        ip[9] = 17;
        embeddedSrc.GetAddressBytes().CopyTo(ip[12..]);
        embeddedDst.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip.ToArray()));
        var udp = icmp.AsSpan(28, 8);
        BinaryPrimitives.WriteUInt16BigEndian(udp, embeddedSport);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], embeddedDport);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], 8 + 6);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), Checksum(icmp));
        return icmp;
    }

    /// <summary>The Internet checksum (RFC 1071).</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0) sum += (uint)(data[^1] << 8);
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    private T InGuest<T>(LabGuest guest, Func<T> work) => NetworkNamespace.Run(lab.Namespace(guest.Name), work);
}
