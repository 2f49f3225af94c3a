// recvmsg(2) with its control messages: .NET's Socket has no way to read a SOL_SOCKET cmsg,
// and the skb->mark of a received datagram (SO_RCVMARK, Linux ≥ 5.19) comes as one.
using System.Runtime.InteropServices;

namespace Microseg.Lab;

internal static partial class Interop
{
    internal static unsafe partial class Libc
    {
        internal const int SOL_SOCKET = 1;
        internal const int SO_MARK = 36;
        internal const int SO_RCVMARK = 75;
        internal const int MSG_DONTWAIT = 0x40;

        [StructLayout(LayoutKind.Sequential)]
        internal struct iovec_t
        {
            public void* iov_base;
            public nuint iov_len;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct msghdr_t
        {
            public void* msg_name;
            public uint msg_namelen;
            public iovec_t* msg_iov;
            public nuint msg_iovlen;
            public void* msg_control;
            public nuint msg_controllen;
            public int msg_flags;
        }

        /// <summary>The header of one control message; its data follows at CMSG_DATA, the next
        /// multiple of sizeof(size_t).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct cmsghdr_t
        {
            public nuint cmsg_len;
            public int cmsg_level;
            public int cmsg_type;
        }

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial nint recvmsg(int sockfd, msghdr_t* msg, int flags);
    }
}
