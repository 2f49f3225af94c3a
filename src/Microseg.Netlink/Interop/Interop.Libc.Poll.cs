// poll(2): waits for any of several fds (the event socket and the wake-up eventfd).
using System.Runtime.InteropServices;
using Microseg.Netlink;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>struct pollfd (named as statfs_t is); the layout test checks the offsets against &lt;poll.h&gt;.</summary>
        [StructLayout(LayoutKind.Explicit, Size = Layout.sizeof_pollfd)]
        internal struct pollfd_t
        {
            [FieldOffset(Layout.pollfd_fd)] public int fd;
            [FieldOffset(Layout.pollfd_events)] public short events;
            [FieldOffset(Layout.pollfd_revents)] public short revents;
        }

        /// <summary>The number of fds with events, 0 on timeout, -1 with errno set.</summary>
        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int poll(pollfd_t* fds, nuint nfds, int timeout);
    }
}
