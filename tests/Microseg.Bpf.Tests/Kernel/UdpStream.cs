// A paced stream of numbered UDP datagrams between two namespaces, counted at the receiver: what
// policy allows must all arrive and what it denies must not, while programs are swapped
// underneath. (The agent tests have the same idea over their lab; this one needs only TempNetns.)
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Microseg.Bpf.Tests.Kernel;

internal sealed class UdpStream : IDisposable
{
    private const int SOL_SOCKET = 1;
    private const int SO_RCVBUFFORCE = 33;

    private readonly Socket sender, receiver;
    private readonly IPEndPoint target;
    private readonly Thread sendThread, receiveThread;
    private readonly HashSet<long> received = [];
    private volatile bool stopping;
    private long sent;

    public UdpStream(TempNetns from, TempNetns to, IPAddress toAddress, int port)
    {
        receiver = to.Invoke(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            // Past net.core.rmem_max (we are root): a receiver that falls behind on a busy machine
            // must not lose what the policy let through.
            s.SetRawSocketOption(SOL_SOCKET, SO_RCVBUFFORCE, BitConverter.GetBytes(8 << 20));
            s.Bind(new IPEndPoint(toAddress, port));
            s.ReceiveTimeout = 200;
            return s;
        });
        sender = from.Invoke(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        target = new IPEndPoint(toAddress, port);
        sendThread = new Thread(SendLoop) { IsBackground = true, Name = "udp stream sender" };
        receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = "udp stream receiver" };
        receiveThread.Start();
        sendThread.Start();
    }

    /// <summary>Datagrams sent so far.</summary>
    public long Sent => Volatile.Read(ref sent);

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
                Volatile.Write(ref sent, sent + 1);
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

    /// <summary>Stops sending, waits for the tail to arrive (the receiver quits after 200 ms of
    /// silence), returns (sent, received).</summary>
    public (long Sent, long Received) Stop()
    {
        stopping = true;
        sendThread.Join();
        receiveThread.Join();
        lock (received) return (sent, received.Count);
    }

    public void Dispose()
    {
        if (!stopping) Stop();
        sender.Dispose();
        receiver.Dispose();
    }
}
