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

    private readonly NetlinkSocket socket;
    private readonly Lock gate = new();
    private uint sequence;

    /// <summary>Dumps thrown away because the kernel flagged them NLM_F_DUMP_INTR (for tests).</summary>
    internal int InterruptedDumps { get; private set; }

    /// <summary>Opens a NETLINK_ROUTE socket in the calling thread's network namespace.</summary>
    /// <exception cref="NetlinkException">the socket cannot be created or set up.</exception>
    public RtNetlink()
    {
        socket = new NetlinkSocket(groups: 0);
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
        socket.Send(request, operation);
        var reply = new LinkReply(MemoryMarshal.Read<uint>(request.AsSpan(Layout.nlmsghdr_nlmsg_seq)));
        while (!reply.IsComplete)
            reply.Accept(socket.Buffer.AsSpan(0, socket.Receive(operation)));
        return reply;
    }
}
