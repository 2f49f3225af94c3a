// One raw NETLINK_ROUTE socket: open, options, bind (to multicast groups or none), send, and
// receive whole datagrams from the kernel. RtNetlink asks over one; LinkEventSubscription
// listens on another. The socket belongs to the network namespace of the thread that opened it.
using System.Runtime.InteropServices;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

internal sealed class NetlinkSocket : IDisposable
{
    private byte[] buffer = new byte[64 * 1024];

    /// <summary>Opens a NETLINK_ROUTE socket in the calling thread's network namespace and binds
    /// it to the multicast <paramref name="groups"/> (RTMGRP_* bits; 0 for requests only).</summary>
    /// <exception cref="NetlinkException">the socket cannot be created or set up.</exception>
    public NetlinkSocket(uint groups)
    {
        int fd = Interop.Libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) throw NetlinkException.FromLastError("open NETLINK_ROUTE socket");
        Handle = new SafeFdHandle(fd);
        try
        {
            // Extended acks put the kernel's reason into the error; capped acks skip echoing our request.
            SetOption(SOL_NETLINK, NETLINK_EXT_ACK, 1, "NETLINK_EXT_ACK");
            SetOption(SOL_NETLINK, NETLINK_CAP_ACK, 1, "NETLINK_CAP_ACK");
            Bind(groups);
        }
        catch
        {
            Handle.Dispose();
            throw;
        }
    }

    public SafeFdHandle Handle { get; }

    /// <summary>The last datagram <see cref="Receive"/> returned starts here.</summary>
    public byte[] Buffer => buffer;

    public void Dispose() => Handle.Dispose();

    public unsafe void Send(byte[] request, string operation)
    {
        ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
        nint sent;
        fixed (byte* data = request)
        {
            do sent = Interop.Libc.send(Handle, data, (nuint)request.Length, 0);
            while (sent < 0 && Marshal.GetLastPInvokeError() == Interop.Errno.EINTR);
        }
        if (sent < 0) throw NetlinkException.FromLastError($"{operation}: send");
        if (sent != request.Length)
            throw NetlinkException.Failed($"{operation}: send", Interop.Errno.EIO, $"sent {sent} of {request.Length} bytes");
    }

    /// <summary>Waits for the next datagram from the kernel and receives it into <see cref="Buffer"/>.</summary>
    /// <returns>Its length.</returns>
    public int Receive(string operation)
    {
        int result = TryReceive(wait: true, operation);
        return result >= 0 ? result : throw NetlinkException.FromErrno($"{operation}: recvfrom", -result);
    }

    /// <summary>Receives the next datagram from the kernel into <see cref="Buffer"/>, growing it to fit.</summary>
    /// <param name="wait">false: return -EAGAIN at once when nothing is queued (MSG_DONTWAIT).</param>
    /// <returns>Its length, or -ENOBUFS (the kernel dropped multicast messages for want of
    /// receive buffer) or -EAGAIN; other failures throw.</returns>
    public unsafe int TryReceive(bool wait, string operation)
    {
        int flags = wait ? 0 : MSG_DONTWAIT;
        while (true)
        {
            // MSG_PEEK|MSG_TRUNC reports the datagram's full size without consuming it.
            nint size = RecvFrom(null, 0, flags | MSG_PEEK | MSG_TRUNC, out _, operation);
            if (size < 0) return (int)size;
            if (size > buffer.Length) buffer = new byte[NetlinkMessageReader.Align((int)size)];
            uint from;
            fixed (byte* data = buffer)
                size = RecvFrom(data, buffer.Length, flags, out from, operation);
            if (size < 0) return (int)size;
            // Only the kernel (port 0) answers requests and sends notifications; skip anyone else.
            if (from == 0) return (int)size;
        }
    }

    public unsafe void SetOption(int level, int option, int value, string optionName)
    {
        if (Interop.Libc.setsockopt(Handle, level, option, &value, sizeof(int)) != 0)
            throw NetlinkException.FromLastError($"setsockopt {optionName} on NETLINK_ROUTE socket");
    }

    /// <summary>setsockopt, with the errno as the result instead of an exception (0 for success).</summary>
    public unsafe int TrySetOption(int level, int option, int value) =>
        Interop.Libc.setsockopt(Handle, level, option, &value, sizeof(int)) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public unsafe int GetOption(int level, int option, string optionName)
    {
        int value = 0;
        uint length = sizeof(int);
        if (Interop.Libc.getsockopt(Handle, level, option, &value, &length) != 0)
            throw NetlinkException.FromLastError($"getsockopt {optionName} on NETLINK_ROUTE socket");
        return value;
    }

    private unsafe nint RecvFrom(byte* data, int length, int flags, out uint fromPort, string operation)
    {
        byte* address = stackalloc byte[Layout.sizeof_sockaddr_nl];
        uint addressLength = (uint)Layout.sizeof_sockaddr_nl;
        nint received;
        int errno = 0;
        do
        {
            received = Interop.Libc.recvfrom(Handle, data, (nuint)length, flags, address, &addressLength);
            if (received < 0) errno = Marshal.GetLastPInvokeError();
        }
        while (received < 0 && errno == Interop.Errno.EINTR);
        fromPort = *(uint*)(address + Layout.sockaddr_nl_nl_pid);
        if (received >= 0) return received;
        if (errno is Interop.Errno.ENOBUFS or Interop.Errno.EAGAIN) return -errno;
        throw NetlinkException.FromErrno($"{operation}: recvfrom", errno);
    }

    private unsafe void Bind(uint groups)
    {
        // nl_pid 0: the kernel assigns our port id.
        byte* address = stackalloc byte[Layout.sizeof_sockaddr_nl];
        new Span<byte>(address, Layout.sizeof_sockaddr_nl).Clear();
        *(ushort*)(address + Layout.sockaddr_nl_nl_family) = AF_NETLINK;
        *(uint*)(address + Layout.sockaddr_nl_nl_groups) = groups;
        if (Interop.Libc.bind(Handle, address, (uint)Layout.sizeof_sockaddr_nl) != 0)
            throw NetlinkException.FromLastError("bind NETLINK_ROUTE socket");
    }
}
