// socket(2) family: the calls a raw AF_NETLINK socket needs. All return -1 with errno set.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static unsafe partial int bind(SafeFileDescriptor sockfd, void* addr, uint addrlen);

    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static unsafe partial int getsockname(SafeFileDescriptor sockfd, void* addr, uint* addrlen);

    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static unsafe partial int setsockopt(SafeFileDescriptor sockfd, int level, int optname, void* optval, uint optlen);

    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static unsafe partial nint send(SafeFileDescriptor sockfd, void* buf, nuint len, int flags);

    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static unsafe partial nint recvfrom(SafeFileDescriptor sockfd, void* buf, nuint len, int flags, void* srcAddr, uint* addrlen);
}
