// open(2): file descriptors outside the socket family (namespace files). close(2) is shared
// with Microseg.Bpf (src/Common).
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        [LibraryImport(Libraries.Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int open(string pathname, int flags, uint mode);
    }
}
