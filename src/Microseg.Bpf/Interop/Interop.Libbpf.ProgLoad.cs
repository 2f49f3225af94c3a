// BPF_PROG_LOAD of raw instructions, for feature probes that need a program but no object file.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        internal const uint BPF_PROG_TYPE_SCHED_CLS = 3;

        [LibraryImport(Libraries.Libbpf, StringMarshalling = StringMarshalling.Utf8)]
        internal static unsafe partial int bpf_prog_load(uint prog_type, string? prog_name, string license, ulong* insns, nuint insn_cnt, nint opts);
    }
}
