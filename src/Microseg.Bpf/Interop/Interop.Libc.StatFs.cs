using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const long BPF_FS_MAGIC = 0xcafe4a11;

        /// <summary>glibc's struct statfs on 64-bit Linux (x86-64, arm64).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct statfs_t
        {
            public long f_type;
            public long f_bsize;
            public ulong f_blocks;
            public ulong f_bfree;
            public ulong f_bavail;
            public ulong f_files;
            public ulong f_ffree;
            public fixed int f_fsid[2];
            public long f_namelen;
            public long f_frsize;
            public long f_flags;
            public fixed long f_spare[4];
        }

        [LibraryImport(Libraries.Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int statfs(string path, statfs_t* buf);
    }
}
