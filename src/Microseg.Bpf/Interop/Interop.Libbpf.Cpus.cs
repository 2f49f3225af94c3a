// libbpf's count of possible CPUs: how many values a per-CPU map holds per key.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>The possible CPUs (from /sys/devices/system/cpu/possible), or a negative errno.</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int libbpf_num_possible_cpus();
    }
}
