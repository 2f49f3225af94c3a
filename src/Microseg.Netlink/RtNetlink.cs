// A NETLINK_ROUTE socket and the link queries the agent makes over it. The socket belongs to
// the network namespace of the thread that created it (see NetworkNamespace.Run) for its whole
// life, whichever thread uses it later.
using System.Runtime.InteropServices;
using System.Text;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

public sealed class RtNetlink : IDisposable
{
    // A dump restarts when links change under it; a table that changes this often is a bug to report.
    private const int MaxDumpAttempts = 10;

    private readonly SafeFdHandle socket;
    private readonly Lock gate = new();
    private byte[] buffer = new byte[64 * 1024];
    private uint sequence;

    /// <summary>Dumps thrown away because the kernel flagged them NLM_F_DUMP_INTR (for tests).</summary>
    internal int InterruptedDumps { get; private set; }

    /// <summary>Opens a NETLINK_ROUTE socket in the calling thread's network namespace.</summary>
    /// <exception cref="NetlinkException">the socket cannot be created or set up.</exception>
    public RtNetlink()
    {
        int fd = Interop.Libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) throw NetlinkException.FromLastError("open NETLINK_ROUTE socket");
        socket = new SafeFdHandle(fd);
        try
        {
            // Extended acks put the kernel's reason into the error; capped acks skip echoing our request.
            SetOption(NETLINK_EXT_ACK, "NETLINK_EXT_ACK");
            SetOption(NETLINK_CAP_ACK, "NETLINK_CAP_ACK");
            Bind();
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        // Distinct sequence numbers per socket make a stray reply easy to tell apart.
        sequence = (uint)Random.Shared.Next();
    }

    /// <summary>Every link in the namespace (RTM_GETLINK dump), consistent with one moment.</summary>
    /// <exception cref="NetlinkException">the kernel refused, or the table kept changing during the dump.</exception>
    public IReadOnlyList<LinkInfo> GetLinks()
    {
        const string operation = "RTM_GETLINK dump";
        lock (gate)
        {
            for (int attempt = 1; attempt <= MaxDumpAttempts; attempt++)
            {
                var reply = Exchange(LinkRequests.Dump(NextSequence()), operation);
                if (reply.Status.Errno != 0)
                    throw NetlinkException.FromKernel(operation, reply.Status);
                if (!reply.Interrupted) return reply.Links;
                InterruptedDumps++;
            }
            throw NetlinkException.Failed(operation, Interop.Errno.EINTR,
                $"links changed during each of {MaxDumpAttempts} attempts (NLM_F_DUMP_INTR)");
        }
    }

    /// <summary>The link called <paramref name="name"/>, or null when there is none.</summary>
    /// <exception cref="ArgumentException">the name cannot be an interface name (empty, or 16 bytes or more).</exception>
    public LinkInfo? GetLink(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Encoding.UTF8.GetByteCount(name) >= IFNAMSIZ || name.Contains('\0'))
            throw new ArgumentException($"'{name}' is not an interface name: at most {IFNAMSIZ - 1} bytes, no NUL", nameof(name));
        return GetOne(ifIndex: 0, name, $"RTM_GETLINK {name}");
    }

    /// <summary>The link with index <paramref name="ifIndex"/>, or null when there is none.</summary>
    public LinkInfo? GetLink(int ifIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ifIndex);
        return GetOne(ifIndex, name: null, $"RTM_GETLINK ifindex {ifIndex}");
    }

    public void Dispose() => socket.Dispose();

    private LinkInfo? GetOne(int ifIndex, string? name, string operation)
    {
        lock (gate)
        {
            var reply = Exchange(LinkRequests.Get(NextSequence(), ifIndex, name), operation);
            if (reply.Status.Errno == Interop.Errno.ENODEV) return null;
            if (reply.Status.Errno != 0)
                throw NetlinkException.FromKernel(operation, reply.Status);
            if (reply.Links.Count != 1)
                throw new NetlinkFormatException($"{operation}: the kernel answered with {reply.Links.Count} links, expected 1");
            return reply.Links[0];
        }
    }

    private uint NextSequence() => ++sequence;

    private LinkReply Exchange(byte[] request, string operation)
    {
        ObjectDisposedException.ThrowIf(socket.IsClosed, this);
        Send(request, operation);
        var reply = new LinkReply(MemoryMarshal.Read<uint>(request.AsSpan(Layout.nlmsghdr_nlmsg_seq)));
        while (!reply.IsComplete)
            reply.Accept(buffer.AsSpan(0, Receive(operation)));
        return reply;
    }

    private unsafe void Send(byte[] request, string operation)
    {
        nint sent;
        fixed (byte* data = request)
        {
            do sent = Interop.Libc.send(socket, data, (nuint)request.Length, 0);
            while (sent < 0 && Marshal.GetLastPInvokeError() == Interop.Errno.EINTR);
        }
        if (sent < 0) throw NetlinkException.FromLastError($"{operation}: send");
        if (sent != request.Length)
            throw NetlinkException.Failed($"{operation}: send", Interop.Errno.EIO, $"sent {sent} of {request.Length} bytes");
    }

    /// <summary>Receives the next datagram from the kernel into <see cref="buffer"/>, growing it to fit.</summary>
    private unsafe int Receive(string operation)
    {
        while (true)
        {
            // MSG_PEEK|MSG_TRUNC reports the datagram's full size without consuming it.
            nint size = RecvFrom(null, 0, MSG_PEEK | MSG_TRUNC, out _, operation);
            if (size > buffer.Length) buffer = new byte[NetlinkMessageReader.Align((int)size)];
            uint from;
            fixed (byte* data = buffer)
                size = RecvFrom(data, buffer.Length, 0, out from, operation);
            // Only the kernel (port 0) answers our requests; anything else is not a reply.
            if (from == 0) return (int)size;
        }
    }

    private unsafe nint RecvFrom(byte* data, int length, int flags, out uint fromPort, string operation)
    {
        byte* address = stackalloc byte[Layout.sizeof_sockaddr_nl];
        uint addressLength = (uint)Layout.sizeof_sockaddr_nl;
        nint received;
        do received = Interop.Libc.recvfrom(socket, data, (nuint)length, flags, address, &addressLength);
        while (received < 0 && Marshal.GetLastPInvokeError() == Interop.Errno.EINTR);
        if (received < 0) throw NetlinkException.FromLastError($"{operation}: recvfrom");
        fromPort = *(uint*)(address + Layout.sockaddr_nl_nl_pid);
        return received;
    }

    private unsafe void SetOption(int option, string optionName)
    {
        int on = 1;
        if (Interop.Libc.setsockopt(socket, SOL_NETLINK, option, &on, sizeof(int)) != 0)
            throw NetlinkException.FromLastError($"setsockopt {optionName} on NETLINK_ROUTE socket");
    }

    private unsafe void Bind()
    {
        // nl_pid 0: the kernel assigns our port id.
        byte* address = stackalloc byte[Layout.sizeof_sockaddr_nl];
        new Span<byte>(address, Layout.sizeof_sockaddr_nl).Clear();
        *(ushort*)(address + Layout.sockaddr_nl_nl_family) = AF_NETLINK;
        if (Interop.Libc.bind(socket, address, (uint)Layout.sizeof_sockaddr_nl) != 0)
            throw NetlinkException.FromLastError("bind NETLINK_ROUTE socket");
    }
}
