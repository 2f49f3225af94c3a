// socket(2) family: the calls a raw AF_NETLINK socket needs. All return -1 with errno set.
using System.Runtime.InteropServices;
using Microseg;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int socket(int domain, int type, int protocol);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int bind(SafeFdHandle sockfd, void* addr, uint addrlen);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int getsockname(SafeFdHandle sockfd, void* addr, uint* addrlen);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int setsockopt(SafeFdHandle sockfd, int level, int optname, void* optval, uint optlen);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int getsockopt(SafeFdHandle sockfd, int level, int optname, void* optval, uint* optlen);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial nint send(SafeFdHandle sockfd, void* buf, nuint len, int flags);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial nint recvfrom(SafeFdHandle sockfd, void* buf, nuint len, int flags, void* srcAddr, uint* addrlen);
    }
}
