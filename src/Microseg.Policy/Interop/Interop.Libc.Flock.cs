// open(2) and flock(2) for FileLock; fsync(2) of a directory, statx(2) and fchown(2) for
// AtomicFile. Not FileStream: .NET takes its own non-blocking flock when
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

        internal const int O_RDONLY = 0, O_DIRECTORY = 0x10000;
        internal const int ENOENT = 2, EPERM = 1, EINVAL = 22, EOPNOTSUPP = 95;
        private const int AT_FDCWD = -100;
        private const uint STATX_MODE = 0x2, STATX_UID = 0x8, STATX_GID = 0x10;

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int fsync(SafeHandle fd);

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static partial int fchown(SafeHandle fd, uint owner, uint group);

        [LibraryImport(Libraries.Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

        // struct statx (linux/stat.h), the same on every architecture: 256 bytes; stx_uid at
        // offset 20, stx_gid at 24, stx_mode (u16) at 28.
        private const int StatxSize = 256, StxUid = 20, StxGid = 24, StxMode = 28;

        /// <summary>The owner, group and permission bits of a file; null when it does not exist.</summary>
        internal static unsafe (uint Uid, uint Gid, UnixFileMode Mode)? OwnerAndMode(string path)
        {
            var buffer = stackalloc byte[StatxSize];
            if (statx(AT_FDCWD, path, 0, STATX_MODE | STATX_UID | STATX_GID, buffer) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == ENOENT) return null;
                throw new IOException($"statx {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            var mode = *(ushort*)(buffer + StxMode) & 0xfff; // permission, setuid/setgid and sticky bits
            return (*(uint*)(buffer + StxUid), *(uint*)(buffer + StxGid), (UnixFileMode)mode);
        }

        /// <summary>Gives the file the owner and group of the file it replaces. Only root may
        /// give a file away: for anyone else EPERM leaves it theirs (they could write the old
        /// one, so they may own its successor), as an editor's save does.</summary>
        internal static void KeepOwner(SafeHandle fd, string path, uint uid, uint gid)
        {
            if (fchown(fd, uid, gid) == 0) return;
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EPERM) throw new IOException($"fchown {path} to {uid}:{gid}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        /// <summary>fsync of a directory, so that a rename into it is on disk. File systems that
        /// cannot sync a directory (EINVAL, EOPNOTSUPP: some FUSE ones) are left to their own
        /// guarantees.</summary>
        internal static void SyncDirectory(string dir)
        {
            using var fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
            if (fd.IsInvalid)
                throw new IOException($"open directory {dir}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            if (fsync(fd) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (EINVAL or EOPNOTSUPP)) throw new IOException($"fsync directory {dir}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }
}
