// clock_gettime(2), for the clock BPF programs read with bpf_ktime_get_ns (CLOCK_MONOTONIC).
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int CLOCK_MONOTONIC = 1;

        [StructLayout(LayoutKind.Sequential)]
        internal struct Timespec
        {
            public long tv_sec;
            public long tv_nsec;
        }

        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial int clock_gettime(int clockid, Timespec* tp);
    }
}
