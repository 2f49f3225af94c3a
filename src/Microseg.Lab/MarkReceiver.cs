// A UDP socket in a lab member's namespace that reports, for every datagram, the skb->mark the
// receiving host's kernel gave it (SO_RCVMARK): what that host sees of the sender's group.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microseg.Netlink;

namespace Microseg.Lab;

/// <param name="Mark">The full 32-bit skb->mark; the group is its low 16 bits.</param>
public sealed record MarkedDatagram(byte[] Payload, uint Mark)
{
    public ushort Group => (ushort)(Mark & 0xffff);
}

public sealed class MarkReceiver : IDisposable
{
    private const int ControlSize = 64;
    private readonly Socket socket;

    /// <summary>Binds <paramref name="address"/>:<paramref name="port"/> inside network namespace <paramref name="netns"/>.</summary>
    public MarkReceiver(string netns, IPAddress address, int port)
    {
        socket = NetworkNamespace.Run(netns, () =>
        {
            var s = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                s.SetRawSocketOption(Interop.Libc.SOL_SOCKET, Interop.Libc.SO_RCVMARK, BitConverter.GetBytes(1));
                s.Bind(new IPEndPoint(address, port));
                return s;
            }
            catch
            {
                s.Dispose();
                throw;
            }
        });
    }

    /// <summary>Every datagram that arrives until <paramref name="quiet"/> passes without one.</summary>
    public IReadOnlyList<MarkedDatagram> Drain(TimeSpan quiet)
    {
        var received = new List<MarkedDatagram>();
        while (socket.Poll(quiet, SelectMode.SelectRead))
        {
            if (Receive() is { } datagram) received.Add(datagram);
        }
        return received;
    }

    /// <summary>The next datagram, or null when none comes within <paramref name="timeout"/>.</summary>
    public MarkedDatagram? Next(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (var left = timeout; left > TimeSpan.Zero; left = deadline - DateTime.UtcNow)
            if (socket.Poll(left, SelectMode.SelectRead) && Receive() is { } datagram) return datagram;
        return null;
    }

    private unsafe MarkedDatagram? Receive()
    {
        var buffer = new byte[2048];
        byte* control = stackalloc byte[ControlSize];
        bool added = false;
        socket.SafeHandle.DangerousAddRef(ref added);
        try
        {
            nint n;
            fixed (byte* data = buffer)
            {
                var iov = new Interop.Libc.iovec_t { iov_base = data, iov_len = (nuint)buffer.Length };
                var msg = new Interop.Libc.msghdr_t { msg_iov = &iov, msg_iovlen = 1, msg_control = control, msg_controllen = ControlSize };
                n = Interop.Libc.recvmsg((int)socket.SafeHandle.DangerousGetHandle(), &msg, Interop.Libc.MSG_DONTWAIT);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is 11 /* EAGAIN */ or 4 /* EINTR */) return null;
                    throw new LabException($"recvmsg on {socket.LocalEndPoint}: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
                return new MarkedDatagram(buffer[..(int)n], ReadMark(control, (int)msg.msg_controllen));
            }
        }
        finally
        {
            if (added) socket.SafeHandle.DangerousRelease();
        }
    }

    /// <summary>The SOL_SOCKET/SO_MARK control message (the kernel sends it with every
    /// datagram once SO_RCVMARK is on); 0 when none came.</summary>
    private static unsafe uint ReadMark(byte* control, int length)
    {
        int header = sizeof(Interop.Libc.cmsghdr_t);
        int align = sizeof(nuint);
        for (int offset = 0; offset + header <= length;)
        {
            var cmsg = (Interop.Libc.cmsghdr_t*)(control + offset);
            int cmsgLength = (int)cmsg->cmsg_len;
            if (cmsgLength < header) break;
            if (cmsg->cmsg_level == Interop.Libc.SOL_SOCKET && cmsg->cmsg_type == Interop.Libc.SO_MARK && cmsgLength >= header + sizeof(uint))
                return *(uint*)(control + offset + header);
            offset += (cmsgLength + align - 1) & ~(align - 1);
        }
        return 0;
    }

    public void Dispose() => socket.Dispose();
}
