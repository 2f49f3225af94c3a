// setns(2): moves the calling thread (only that thread) into another namespace.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static partial int setns(SafeFileDescriptor fd, int nstype);
}
