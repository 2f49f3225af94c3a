// open(2)/close(2): file descriptors outside the socket family (namespace files).
using System.Runtime.InteropServices;

internal static partial class Interop
{
    [LibraryImport(Libraries.Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int open(string pathname, int flags, uint mode);

    [LibraryImport(Libraries.Libc, SetLastError = true)]
    internal static partial int close(int fd);
}
