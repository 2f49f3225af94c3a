// One TCP connection between two guests with data flowing both ways: each end sends numbered
// 8-byte counters, paced, and checks that what it receives is 0, 1, 2, ... with nothing missing,
// repeated or reordered. Proves that an open connection survives what the agent does underneath
// (0 bytes lost, no reset) — or, after flush-flows, that its replies stop.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microseg.Lab;
using Microseg.Netlink;

namespace Microseg.Agent.Tests.Kernel;

public sealed class TcpStream : IDisposable
{
    private readonly Socket listener, client, server;
    private readonly End clientEnd, serverEnd;

    /// <summary>Connects <paramref name="src"/> to <paramref name="dst"/>:<paramref name="port"/>
    /// (throws when the connect does not complete in 5 s) and starts both ends.</summary>
    public TcpStream(Microseg.Lab.Lab lab, LabGuest src, LabGuest dst, int port)
    {
        listener = NetworkNamespace.Run(lab.Namespace(dst.Name), () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.Bind(new IPEndPoint(dst.Ip, port));
            s.Listen(1);
            return s;
        });
        client = NetworkNamespace.Run(lab.Namespace(src.Name), () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        var accept = listener.AcceptAsync();
        if (!client.ConnectAsync(new IPEndPoint(dst.Ip, port)).Wait(TimeSpan.FromSeconds(5)) || !accept.Wait(TimeSpan.FromSeconds(5)))
        {
            client.Dispose();
            listener.Dispose();
            throw new InvalidOperationException($"TCP {src.Name} -> {dst.Name}:{port} did not connect in 5 s");
        }
        server = accept.Result;
        clientEnd = new End(client, $"{src.Name}");
        serverEnd = new End(server, $"{dst.Name}");
    }

    /// <summary>Counters the connecting guest received (from the other end: the reply direction).</summary>
    public long ReceivedBySource => clientEnd.Received;

    /// <summary>Counters the listening guest received.</summary>
    public long ReceivedByDestination => serverEnd.Received;

    /// <summary>The first problem either end saw (a gap, a reset), or null.</summary>
    public string? Problem => clientEnd.Problem ?? serverEnd.Problem;

    public override string ToString() =>
        $"source sent {clientEnd.Sent} received {clientEnd.Received}; destination sent {serverEnd.Sent} received {serverEnd.Received}" +
        (Problem is { } p ? $"; {p}" : "");

    /// <summary>Waits until both ends have received <paramref name="more"/> counters beyond what
    /// they had when called; false when that took longer than <paramref name="timeout"/>.</summary>
    public bool Flows(long more, TimeSpan timeout)
    {
        var (c, s) = (clientEnd.Received, serverEnd.Received);
        return Poll.Until(() => clientEnd.Received >= c + more && serverEnd.Received >= s + more, timeout);
    }

    /// <summary>Stops sending, closes both write sides, reads to the end, and returns whether
    /// every counter sent arrived (each end received exactly what the other sent, in order).</summary>
    public (bool Complete, string Detail) Finish()
    {
        clientEnd.StopSending();
        serverEnd.StopSending();
        bool drained = clientEnd.WaitForEnd(TimeSpan.FromSeconds(10)) & serverEnd.WaitForEnd(TimeSpan.FromSeconds(10));
        bool complete = drained && Problem is null && clientEnd.Received == serverEnd.Sent && serverEnd.Received == clientEnd.Sent;
        return (complete, ToString());
    }

    public void Dispose()
    {
        clientEnd.Abort();
        serverEnd.Abort();
        client.Dispose();
        server.Dispose();
        listener.Dispose();
    }

    /// <summary>One end: a sender thread (16 counters a millisecond) and a receiver thread.</summary>
    private sealed class End
    {
        private readonly Socket socket;
        private readonly string name;
        private readonly Thread sendThread, receiveThread;
        private volatile bool stopSending, aborted, ended;
        private long sent, received;
        private volatile string? problem;

        public End(Socket socket, string name)
        {
            this.socket = socket;
            this.name = name;
            socket.SendTimeout = 200;
            socket.ReceiveTimeout = 200;
            socket.NoDelay = true;
            sendThread = new Thread(SendLoop) { IsBackground = true, Name = $"tcp stream {name} sender" };
            receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"tcp stream {name} receiver" };
            receiveThread.Start();
            sendThread.Start();
        }

        public long Sent => Interlocked.Read(ref sent);
        public long Received => Interlocked.Read(ref received);
        public string? Problem => problem;

        private void SendLoop()
        {
            var batch = new byte[16 * 8];
            try
            {
                while (!stopSending && !aborted)
                {
                    long first = Sent;
                    for (int i = 0; i < 16; i++) BinaryPrimitives.WriteInt64LittleEndian(batch.AsSpan(i * 8), first + i);
                    int offset = 0;
                    while (offset < batch.Length && !aborted)
                    {
                        try { offset += socket.Send(batch, offset, batch.Length - offset, SocketFlags.None); }
                        catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock) { }
                    }
                    Interlocked.Add(ref sent, 16);
                    Thread.Sleep(1);
                }
                if (!aborted) socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (!aborted) problem ??= $"{name} send: {e.Message}";
            }
        }

        private void ReceiveLoop()
        {
            var buffer = new byte[64 * 1024];
            int pending = 0;
            try
            {
                while (!aborted)
                {
                    int n;
                    try { n = socket.Receive(buffer, pending, buffer.Length - pending, SocketFlags.None); }
                    catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock) { continue; }
                    if (n == 0)
                    {
                        if (pending != 0) problem ??= $"{name} receive: the stream ended inside a counter";
                        ended = true;
                        return;
                    }
                    n += pending;
                    int whole = n / 8 * 8;
                    for (int i = 0; i < whole; i += 8)
                    {
                        long value = BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(i));
                        long expected = Received;
                        if (value != expected) problem ??= $"{name} receive: counter {value} where {expected} was due";
                        Interlocked.Increment(ref received);
                    }
                    pending = n - whole;
                    Array.Copy(buffer, whole, buffer, 0, pending);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (!aborted) problem ??= $"{name} receive: {e.Message}";
            }
        }

        public void StopSending()
        {
            stopSending = true;
            sendThread.Join();
        }

        public bool WaitForEnd(TimeSpan timeout) => Poll.Until(() => ended || problem is not null, timeout) && ended;

        public void Abort()
        {
            aborted = true;
            stopSending = true;
            sendThread.Join(TimeSpan.FromSeconds(2));
            receiveThread.Join(TimeSpan.FromSeconds(2));
        }
    }
}
