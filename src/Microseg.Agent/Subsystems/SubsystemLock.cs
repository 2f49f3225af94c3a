// One lock file per subsystem: a full apply holds it exclusively, plug-path runs share it so
// that many guests can start at once. Blocking flock(2): a waiter waits, it is not refused.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Microseg.Agent.Subsystems;

public sealed class SubsystemLock : IDisposable
{
    private readonly SafeFileHandle fd;

    private SubsystemLock(SafeFileHandle fd) => this.fd = fd;

    public static SubsystemLock Exclusive(string path) => Take(path, Interop.LOCK_EX);

    public static SubsystemLock Shared(string path) => Take(path, Interop.LOCK_SH);

    private static SubsystemLock Take(string path, int operation)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var fd = Interop.open(path, Interop.O_RDWR | Interop.O_CREAT | Interop.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd.IsInvalid)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open lock file {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        while (Interop.flock(fd, operation) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == 4 /* EINTR */) continue;
            fd.Dispose();
            throw new IOException($"lock {path} ({(operation == Interop.LOCK_EX ? "exclusive" : "shared")}): {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new SubsystemLock(fd);
    }

    public void Dispose() => fd.Dispose();
}
