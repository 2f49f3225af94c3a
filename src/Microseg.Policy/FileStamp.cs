// A file's identity without reading it: device, inode, size, modification and change times
// (statx(2)). The committed snapshot is replaced by rename, never rewritten in place, so two
// equal stamps are one content: what the plug index is versioned with, at the cost of one
// system call instead of reading and parsing the snapshot.
using System.Globalization;
using System.Runtime.InteropServices;

namespace Microseg.Policy;

public static class FileStamp
{
    /// <summary>The stamp of <paramref name="path"/> (made absolute), or null when it does not exist.</summary>
    public static string? Of(string path)
    {
        var full = Path.GetFullPath(path);
        return Interop.Libc.Identity(full) is { } id
            ? string.Create(CultureInfo.InvariantCulture, $"{full}|{id.DevMajor}:{id.DevMinor}|{id.Inode}|{id.Size}|{id.MtimeSec}.{id.MtimeNsec:D9}|{id.CtimeSec}.{id.CtimeNsec:D9}")
            : null;
    }
}

internal static partial class Interop
{
    internal static partial class Libc
    {
        private const uint STATX_MTIME = 0x40, STATX_CTIME = 0x80, STATX_INO = 0x100, STATX_SIZE = 0x200;

        // struct statx offsets (linux/stat.h, the same on every architecture).
        private const int StxIno = 32, StxSize = 40, StxCtime = 96, StxMtime = 112, StxDevMajor = 136, StxDevMinor = 140;

        internal readonly record struct FileIdentity(uint DevMajor, uint DevMinor, ulong Inode, ulong Size, long MtimeSec, uint MtimeNsec, long CtimeSec, uint CtimeNsec);

        /// <summary>Device, inode, size and times of a file; null when it does not exist.</summary>
        internal static unsafe FileIdentity? Identity(string path)
        {
            var buffer = stackalloc byte[StatxSize];
            if (statx(AT_FDCWD, path, 0, STATX_INO | STATX_SIZE | STATX_MTIME | STATX_CTIME, buffer) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is ENOENT or ENOTDIR) return null;
                throw new IOException($"statx {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
            return new FileIdentity(*(uint*)(buffer + StxDevMajor), *(uint*)(buffer + StxDevMinor), *(ulong*)(buffer + StxIno), *(ulong*)(buffer + StxSize),
                *(long*)(buffer + StxMtime), *(uint*)(buffer + StxMtime + 8), *(long*)(buffer + StxCtime), *(uint*)(buffer + StxCtime + 8));
        }

        private const int ENOTDIR = 20;
    }
}
