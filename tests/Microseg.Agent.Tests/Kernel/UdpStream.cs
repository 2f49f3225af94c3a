// A paced stream of numbered UDP datagrams from one guest to another, counted at the receiver:
// proves that nothing policy allows is lost, and nothing it denies gets through, while the
// agent changes programs underneath.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microseg.Lab;
using Microseg.Netlink;

namespace Microseg.Agent.Tests.Kernel;

public sealed class UdpStream : IDisposable
{
    private readonly Socket sender, receiver;
    private readonly IPEndPoint target;
    private readonly Thread sendThread, receiveThread;
    private volatile bool stopping;
    private long sent;
    private readonly HashSet<long> received = [];

    public UdpStream(Microseg.Lab.Lab lab, LabGuest src, LabGuest dst, int port)
    {
        receiver = NetworkNamespace.Run(lab.Namespace(dst.Name), () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            ForceReceiveBuffer(s, 8 << 20);
            s.Bind(new IPEndPoint(dst.Ip, port));
            s.ReceiveTimeout = 200;
            return s;
        });
        sender = NetworkNamespace.Run(lab.Namespace(src.Name), () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        target = new IPEndPoint(dst.Ip, port);
        sendThread = new Thread(SendLoop) { IsBackground = true, Name = "udp stream sender" };
        receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = "udp stream receiver" };
        receiveThread.Start();
        sendThread.Start();
    }

    /// <summary>SO_RCVBUFFORCE (root): SO_RCVBUF is capped by net.core.rmem_max (~200 KB), a
    /// few tens of milliseconds of the stream, which a receiver thread stalled by a loaded
    /// machine overruns: datagrams the policy let through would be lost in the socket.</summary>
    public static void ForceReceiveBuffer(Socket socket, int bytes) =>
        socket.SetRawSocketOption(1 /* SOL_SOCKET */, 33 /* SO_RCVBUFFORCE */, BitConverter.GetBytes(bytes));

    private void SendLoop()
    {
        var buffer = new byte[8];
        while (!stopping)
        {
            // About 10,000 datagrams a second: a burst of 10, then a millisecond's rest.
            for (int i = 0; i < 10; i++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(buffer, sent);
                sender.SendTo(buffer, target);
                Interlocked.Increment(ref sent);
            }
            Thread.Sleep(1);
        }
    }

    private void ReceiveLoop()
    {
        var buffer = new byte[64];
        while (true)
        {
            try
            {
                int n = receiver.Receive(buffer);
                if (n == 8) lock (received) received.Add(BinaryPrimitives.ReadInt64LittleEndian(buffer));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                if (stopping) return;
            }
        }
    }

    public long Sent => Interlocked.Read(ref sent);

    public long Received
    {
        get { lock (received) return received.Count; }
    }

    /// <summary>Waits until every stream has sent (and, for those <paramref name="delivered"/>
    /// lists, received) <paramref name="more"/> datagrams beyond what it had when called, and
    /// more than <paramref name="atLeast"/> in all.</summary>
    public static void WaitForTraffic(IReadOnlyList<UdpStream> streams, IReadOnlyList<UdpStream> delivered, long more, long atLeast = 0)
    {
        var from = streams.ToDictionary(s => s, s => (s.Sent, s.Received));
        bool Done() => streams.All(s => s.Sent > Math.Max(from[s].Sent + more, atLeast) &&
            (!delivered.Contains(s) || s.Received > Math.Max(from[s].Received + more, atLeast)));
        Assert.True(Poll.Until(Done, TimeSpan.FromSeconds(30)),
            $"the streams did not carry {more} more datagrams in 30 s: {string.Join(", ", streams.Select(s => $"{s.Sent} sent, {s.Received} received"))}");
    }

    /// <summary>Stops sending, waits for the tail to arrive, returns (sent, received).</summary>
    public (long Sent, long Received) Stop()
    {
        stopping = true;
        sendThread.Join();
        receiveThread.Join();
        lock (received) return (sent, received.Count);
    }

    /// <summary>The numbers sent but not received (after <see cref="Stop"/>), as ranges "a-b", to tell when.</summary>
    public string LostRanges()
    {
        var ranges = new List<string>();
        lock (received)
        {
            for (long i = 0; i < sent; i++)
            {
                if (received.Contains(i)) continue;
                long j = i;
                while (j + 1 < sent && !received.Contains(j + 1)) j++;
                ranges.Add($"{i}-{j}");
                i = j;
            }
        }
        return string.Join(", ", ranges);
    }

    public void Dispose()
    {
        if (!stopping) Stop();
        sender.Dispose();
        receiver.Dispose();
    }
}
