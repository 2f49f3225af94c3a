using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int F_DUPFD_CLOEXEC = 1030;

        // fcntl is variadic; on the SysV x86-64 and AAPCS64 Linux ABIs an int passed as a named
        // argument lands where the variadic callee reads it.
        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int fcntl(int fd, int cmd, int arg);
    }
}
