// open(2) and flock(2) for FileLock. Not FileStream: .NET takes its own non-blocking flock when
// it opens a file with FileShare.None, which refuses a second holder instead of letting it wait,
// and it has no shared mode.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Microseg.Policy;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
        internal const int O_RDWR = 0x2, O_CREAT = 0x40, O_CLOEXEC = 0x80000;
        internal const int EINTR = 4, EWOULDBLOCK = 11;

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int flock(SafeHandle fd, int operation);

        [LibraryImport(Libraries.Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int open_raw(string path, int flags, int mode);

        internal static SafeFileHandle open(string path, int flags, int mode) => new(open_raw(path, flags, mode), ownsHandle: true);
    }
}
