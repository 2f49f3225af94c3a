// Link events of one network namespace, for a resident agent that keeps an interface table:
// a NETLINK_ROUTE socket bound to RTNLGRP_LINK, read by one dedicated thread with blocking
// calls (no thread-pool thread is held, and setns never enters into it). The first Read
// reports every link; after that, changes in kernel order. When the kernel drops notifications
// (ENOBUFS), the subscription discards what is queued, dumps the links afresh and reports the
// full list again, so the table converges whatever was lost.
using System.Runtime.InteropServices;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

public sealed class LinkEventSubscription : IDisposable
{
    /// <summary>
    /// 4 MiB: room for thousands of notifications (each RTM_NEWLINK with its statistics takes
    /// a few KiB of buffer), so a host starting hundreds of guests at once does not overflow
    /// while the agent attaches programs. Set with SO_RCVBUFFORCE (root), so net.core.rmem_max
    /// does not cap it; without CAP_NET_ADMIN, SO_RCVBUF, capped by rmem_max.
    /// </summary>
    public const int DefaultReceiveBufferBytes = 4 * 1024 * 1024;

    // Events handed out per Read at most, so a flood still reaches the consumer in batches.
    private const int MaxEventsPerRead = 256;

    private const string Operation = "RTNLGRP_LINK events";

    private readonly NetlinkSocket events;
    private readonly RtNetlink dumps;
    private readonly SafeFdHandle wake;
    private readonly List<LinkEvent> batch = [];
    private bool started;
    private int disposed;

    private LinkEventSubscription(NetlinkSocket events, RtNetlink dumps, SafeFdHandle wake, int receiveBufferBytes)
    {
        this.events = events;
        this.dumps = dumps;
        this.wake = wake;
        ReceiveBufferBytes = receiveBufferBytes;
    }

    /// <summary>
    /// Subscribes to the link events of the calling thread's network namespace (run it inside
    /// <see cref="NetworkNamespace.Run{T}(string, Func{T})"/> for another one); the subscription
    /// stays in that namespace whichever thread reads it.
    /// </summary>
    /// <param name="receiveBufferBytes">SO_RCVBUF to ask for; the kernel doubles it for its
    /// bookkeeping and enforces a minimum of a few KiB.</param>
    /// <exception cref="NetlinkException">a socket or the eventfd cannot be created or set up.</exception>
    public static LinkEventSubscription Open(int receiveBufferBytes = DefaultReceiveBufferBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(receiveBufferBytes);
        var events = new NetlinkSocket(RTMGRP_LINK);
        RtNetlink? dumps = null;
        try
        {
            int errno = events.TrySetOption(SOL_SOCKET, SO_RCVBUFFORCE, receiveBufferBytes);
            if (errno == Interop.Errno.EPERM)
                events.SetOption(SOL_SOCKET, SO_RCVBUF, receiveBufferBytes, "SO_RCVBUF");
            else if (errno != 0)
                throw NetlinkException.FromErrno("setsockopt SO_RCVBUFFORCE on NETLINK_ROUTE socket", errno);
            int granted = events.GetOption(SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
            // Bound before the first dump: every change after that dump is also an event.
            dumps = new RtNetlink();
            int fd = Interop.Libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (fd < 0) throw NetlinkException.FromLastError("eventfd for waking the link event reader");
            return new LinkEventSubscription(events, dumps, new SafeFdHandle(fd), granted);
        }
        catch
        {
            dumps?.Dispose();
            events.Dispose();
            throw;
        }
    }

    /// <summary>The receive buffer the kernel granted, as getsockopt(SO_RCVBUF) reports it (twice what was asked).</summary>
    public int ReceiveBufferBytes { get; }

    /// <summary>
    /// Blocks until there are events and returns them in kernel order: first a
    /// <see cref="LinkResync"/> (<see cref="LinkResyncReason.Subscribed"/>) with every link, then
    /// <see cref="LinkUpdated"/> and <see cref="LinkDeleted"/>, and a <see cref="LinkResync"/>
    /// (<see cref="LinkResyncReason.EventsLost"/>) whenever notifications were lost. Call it from
    /// one thread at a time.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the subscription stays usable.</exception>
    /// <exception cref="ObjectDisposedException">the subscription was disposed, also while this call waited.</exception>
    /// <exception cref="NetlinkException">a receive or the resync dump failed.</exception>
    public IReadOnlyList<LinkEvent> Read(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (!started)
        {
            started = true;
            return [new LinkResync(dumps.GetLinks(), LinkResyncReason.Subscribed)];
        }
        batch.Clear();
        using var registration = cancellationToken.Register(static state => ((LinkEventSubscription)state!).Wake(), this);
        while (true)
        {
            int received = events.TryReceive(wait: false, Operation);
            if (received == -Interop.Errno.ENOBUFS)
                return [Resync()];
            if (received >= 0)
            {
                LinkEventParser.ParseAll(events.Buffer.AsSpan(0, received), batch);
                if (batch.Count >= MaxEventsPerRead) return [.. batch];
                continue;
            }
            // EAGAIN: nothing queued. Hand out what we have, or wait.
            if (batch.Count > 0) return [.. batch];
            WaitReadable(cancellationToken);
        }
    }

    /// <summary>Closes the subscription; a Read waiting on another thread wakes and throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        Wake();
        events.Dispose();
        dumps.Dispose();
        wake.Dispose();
    }

    private LinkResync Resync()
    {
        // What is still queued was sent before the loss; applied after the dump it could undo a
        // change whose own notification was the one dropped. Discard it, then dump.
        while (events.TryReceive(wait: false, Operation) is >= 0 or -Interop.Errno.ENOBUFS) { }
        return new LinkResync(dumps.GetLinks(), LinkResyncReason.EventsLost);
    }

    private unsafe void WaitReadable(CancellationToken cancellationToken)
    {
        using (var socket = events.Handle.Use())
        using (var wakeFd = wake.Use())
        {
            var fds = stackalloc Interop.Libc.pollfd_t[2];
            fds[0] = new Interop.Libc.pollfd_t { fd = socket.Value, events = POLLIN };
            fds[1] = new Interop.Libc.pollfd_t { fd = wakeFd.Value, events = POLLIN };
            int ready = Interop.Libc.poll(fds, 2, timeout: -1);
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.Errno.EINTR) throw NetlinkException.FromErrno($"{Operation}: poll", errno);
            }
            if (ready > 0 && fds[1].revents != 0)
            {
                // Reset the eventfd, then see who rang: Dispose or the token (a stale ring from an
                // earlier Read's token is harmless and simply ignored).
                ulong count;
                Interop.Libc.read(wake, &count, sizeof(ulong));
            }
        }
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
    }

    private unsafe void Wake()
    {
        ulong one = 1;
        try
        {
            // A full counter (EAGAIN) already wakes the reader; nothing else can fail here.
            Interop.Libc.write(wake, &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
            // A token cancelled after Dispose closed the eventfd: nobody is waiting on it.
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
}
