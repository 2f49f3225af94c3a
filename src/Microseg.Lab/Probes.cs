// Real traffic between lab guests: one-way UDP datagrams (exactly one verdict each), TCP
// connects and ICMP echo (round trips: the answer passes as a reply when the opener's group is
// stateful, else only by rule).
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Lab;

public sealed class Probes(Lab lab)
{
    private const int UdpPort = 7101, TcpPort = 7102, TcpClientPort = 7103, UdpAttempts = 3;
    private static readonly TimeSpan TcpTimeout = TimeSpan.FromSeconds(1);

    /// <summary>The packets the probes send, as the engine judges them: a UDP datagram to
    /// 7101, a TCP connect to 7102 (the answer goes to the client's fixed port 7103), an ICMP
    /// echo (request and reply alike: ICMP has no port).</summary>
    public static readonly Packet UdpPacket = new(Service.Udp, UdpPort), TcpPacket = new(Service.Tcp, TcpPort),
        TcpAnswer = new(Service.Tcp, TcpClientPort), IcmpPacket = new(Service.Icmp, null);

    /// <summary>For every ordered pair of guests: did a UDP datagram from src reach dst?</summary>
    public Dictionary<(string Src, string Dst), bool> OneWayUdp(IReadOnlyList<LabGuest> guests)
    {
        var receivers = guests.ToDictionary(g => g.Name, g => InGuest(g, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(g.Ip, UdpPort));
            return s;
        }));
        var senders = guests.ToDictionary(g => g.Name, g => InGuest(g, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)));
        try
        {
            for (int i = 0; i < UdpAttempts; i++)
                foreach (var src in guests)
                    foreach (var dst in guests.Where(d => d != src))
                        senders[src.Name].SendTo(Encoding.ASCII.GetBytes(src.Name), new IPEndPoint(dst.Ip, UdpPort));
            Thread.Sleep(300);
            var seen = new Dictionary<(string, string), bool>();
            var buffer = new byte[256];
            foreach (var dst in guests)
            {
                var r = receivers[dst.Name];
                while (r.Available > 0)
                {
                    int n = r.Receive(buffer);
                    seen[(Encoding.ASCII.GetString(buffer, 0, n), dst.Name)] = true;
                }
            }
            var result = new Dictionary<(string, string), bool>();
            foreach (var src in guests)
                foreach (var dst in guests.Where(d => d != src))
                    result[(src.Name, dst.Name)] = seen.ContainsKey((src.Name, dst.Name));
            return result;
        }
        finally
        {
            foreach (var s in receivers.Values.Concat(senders.Values)) s.Dispose();
        }
    }

    /// <summary>For every ordered pair: did a TCP connect from src to dst complete within the timeout?</summary>
    public Dictionary<(string Src, string Dst), bool> TcpConnect(IReadOnlyList<LabGuest> guests)
    {
        var listeners = guests.ToDictionary(g => g.Name, g => InGuest(g, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.Bind(new IPEndPoint(g.Ip, TcpPort));
            s.Listen(64);
            return s;
        }));
        var attempts = new List<(string, string, Socket, Task)>();
        try
        {
            foreach (var src in guests)
                foreach (var dst in guests.Where(d => d != src))
                {
                    // A fixed client port, so the answer's destination port is known; closed
                    // with a reset (linger 0), so no TIME_WAIT keeps the next check from it.
                    var client = InGuest(src, () =>
                    {
                        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { LingerState = new LingerOption(true, 0) };
                        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                        s.Bind(new IPEndPoint(src.Ip, TcpClientPort));
                        return s;
                    });
                    attempts.Add((src.Name, dst.Name, client, client.ConnectAsync(new IPEndPoint(dst.Ip, TcpPort))));
                }
            Task.WaitAll([.. attempts.Select(a => Task.WhenAny(a.Item4, Task.Delay(TcpTimeout)))]);
            return attempts.ToDictionary(a => (a.Item1, a.Item2), a => a.Item4.IsCompletedSuccessfully);
        }
        finally
        {
            foreach (var a in attempts) a.Item3.Dispose();
            foreach (var l in listeners.Values) l.Dispose();
        }
    }

    /// <summary>For every ordered pair: did one ICMP echo from src get its reply?</summary>
    public Dictionary<(string Src, string Dst), bool> Ping(IReadOnlyList<LabGuest> guests)
    {
        var runs = new List<(string, string, Task<ShellResult>)>();
        foreach (var src in guests)
            foreach (var dst in guests.Where(d => d != src))
                runs.Add((src.Name, dst.Name, Task.Run(() => Shell.Run("ip", "netns", "exec", lab.Namespace(src.Name), "ping", "-n", "-q", "-c", "1", "-W", "1", dst.Ip.ToString()))));
        Task.WaitAll([.. runs.Select(r => r.Item3)]);
        return runs.ToDictionary(r => (r.Item1, r.Item2), r => r.Item3.Result.ExitCode == 0);
    }

    private T InGuest<T>(LabGuest guest, Func<T> work) => NetworkNamespace.Run(lab.Namespace(guest.Name), work);
}
