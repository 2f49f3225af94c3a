// open(2) and flock(2) for the agent's shared/exclusive run lock. Not FileStream: .NET takes its
// own non-blocking flock on open, which would refuse a second process instead of waiting.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Microseg.Agent;

internal static partial class Interop
{
    internal const int LOCK_SH = 1, LOCK_EX = 2;
    internal const int O_RDWR = 0x2, O_CREAT = 0x40, O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int flock(SafeHandle fd, int operation);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open_raw(string path, int flags, int mode);

    internal static SafeFileHandle open(string path, int flags, int mode) => new(open_raw(path, flags, mode), ownsHandle: true);
}
