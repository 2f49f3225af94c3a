// Advisory locks between processes (and between threads: each lock opens its own file
// description) on flock(2): exclusive or shared, waiting for the holder to let go, without a
// limit or until a deadline. The config store and the agent's per-subsystem locks both use it.
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Microseg.Policy;

public sealed class FileLock : IDisposable
{
    private readonly SafeFileHandle fd;

    private FileLock(SafeFileHandle fd) => this.fd = fd;

    /// <summary>Waits for an exclusive lock on <paramref name="path"/> (created 0600 when missing),
    /// for ever when <paramref name="timeout"/> is null, else throws <see cref="TimeoutException"/>
    /// when it is still held by another after that long.</summary>
    public static FileLock Exclusive(string path, TimeSpan? timeout = null) => Take(path, Interop.Libc.LOCK_EX, timeout);

    /// <summary>As <see cref="Exclusive"/>, a lock that other shared holders may hold at the same time.</summary>
    public static FileLock Shared(string path, TimeSpan? timeout = null) => Take(path, Interop.Libc.LOCK_SH, timeout);

    private static FileLock Take(string path, int operation, TimeSpan? timeout)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var fd = Interop.Libc.open(path, Interop.Libc.O_RDWR | Interop.Libc.O_CREAT | Interop.Libc.O_CLOEXEC, 0x180 /* 0600 */);
        if (fd.IsInvalid)
        {
            var errno = Marshal.GetLastPInvokeError();
            fd.Dispose();
            throw new IOException($"open lock file {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        try
        {
            if (timeout is { } limit) Poll(fd, path, operation, limit);
            else Wait(fd, path, operation);
            return new FileLock(fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>A blocking flock: the kernel wakes us when the holder lets go.</summary>
    private static void Wait(SafeFileHandle fd, string path, int operation)
    {
        while (Interop.Libc.flock(fd, operation) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != Interop.Libc.EINTR) throw Failed(path, operation, errno);
        }
    }

    /// <summary>flock has no timeout: try without blocking, and back off (1 ms, doubling up to
    /// 50 ms, with jitter so that waiters do not retry in step) until the deadline.</summary>
    private static void Poll(SafeFileHandle fd, string path, int operation, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var pause = 1;
        while (Interop.Libc.flock(fd, operation | Interop.Libc.LOCK_NB) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Interop.Libc.EINTR) continue;
            if (errno != Interop.Libc.EWOULDBLOCK) throw Failed(path, operation, errno);
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"lock {path} ({Word(operation)}): still held by another process after {timeout.TotalSeconds:0.#} s");
            Thread.Sleep(pause + Random.Shared.Next(pause + 1));
            pause = Math.Min(pause * 2, 50);
        }
    }

    private static IOException Failed(string path, int operation, int errno) =>
        new($"lock {path} ({Word(operation)}): {Marshal.GetPInvokeErrorMessage(errno)}");

    private static string Word(int operation) => operation == Interop.Libc.LOCK_EX ? "exclusive" : "shared";

    /// <summary>Closing the descriptor releases the lock.</summary>
    public void Dispose() => fd.Dispose();
}
