// write(2) for StandardStream: the CLI's stdout and stderr without System.Console.
using System.Runtime.InteropServices;

namespace Microseg.Cli;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int EINTR = 4, EPIPE = 32;

        [LibraryImport("libc", SetLastError = true)]
        internal static unsafe partial nint write(int fd, byte* buffer, nint count);
    }
}
