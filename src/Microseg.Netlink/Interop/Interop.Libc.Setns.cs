// setns(2): moves the calling thread (only that thread) into another namespace.
using System.Runtime.InteropServices;
using Microseg;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int setns(SafeFdHandle fd, int nstype);
    }
}
