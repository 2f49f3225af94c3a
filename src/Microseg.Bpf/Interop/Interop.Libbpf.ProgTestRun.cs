// BPF_PROG_TEST_RUN through libbpf's bpf_prog_test_run_opts (bpf.h).
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>struct bpf_test_run_opts (libbpf 1.1), <c>sz</c> = sizeof.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct bpf_test_run_opts
        {
            public nuint sz;
            public void* data_in;
            public void* data_out;
            public uint data_size_in;
            public uint data_size_out;
            public void* ctx_in;
            public void* ctx_out;
            public uint ctx_size_in;
            public uint ctx_size_out;
            public uint retval;
            public int repeat;
            public uint duration;
            public uint flags;
            public uint cpu;
            public uint batch_size;
        }

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_prog_test_run_opts(int prog_fd, bpf_test_run_opts* opts);
    }
}
