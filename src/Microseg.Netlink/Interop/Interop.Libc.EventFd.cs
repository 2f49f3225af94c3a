// eventfd(2) and the 8-byte read(2)/write(2) that signal and reset it: how one thread wakes
// another that is blocked in poll(2).
using System.Runtime.InteropServices;
using Microseg;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int eventfd(uint initval, int flags);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial nint read(SafeFdHandle fd, void* buf, nuint count);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial nint write(SafeFdHandle fd, void* buf, nuint count);
    }
}
