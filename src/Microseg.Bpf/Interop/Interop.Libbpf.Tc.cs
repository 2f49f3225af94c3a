// libbpf's tc API (libbpf.h): the clsact qdisc and cls_bpf filters in direct-action mode. libbpf
// builds and sends the rtnetlink messages itself, so none are written here.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        // enum bpf_tc_attach_point
        internal const uint BPF_TC_INGRESS = 1 << 0;
        internal const uint BPF_TC_EGRESS = 1 << 1;

        // enum bpf_tc_flags: NLM_F_REPLACE instead of NLM_F_EXCL on RTM_NEWTFILTER.
        internal const uint BPF_TC_F_REPLACE = 1 << 0;

        /// <summary>struct bpf_tc_hook (libbpf 1.1), <c>sz</c> = sizeof: 24 bytes. parent 0 with
        /// BPF_TC_INGRESS or BPF_TC_EGRESS means the clsact qdisc's own hook.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct bpf_tc_hook
        {
            public nuint sz;
            public int ifindex;
            public uint attach_point; // enum bpf_tc_attach_point
            public uint parent;
            // size_t :0 pads the struct to a multiple of 8
        }

        /// <summary>struct bpf_tc_opts (libbpf 1.1), <c>sz</c> = sizeof: 32 bytes. attach reads
        /// prog_fd, flags, handle and priority and writes back prog_id, handle and priority;
        /// query and detach take only handle and priority (everything else must be 0).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct bpf_tc_opts
        {
            public nuint sz;
            public int prog_fd;
            public uint flags;
            public uint prog_id;
            public uint handle;
            public uint priority;
            // size_t :0 pads the struct to a multiple of 8
        }

        /// <summary>Creates the clsact qdisc (NLM_F_EXCL): -EEXIST when the device has one.</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_tc_hook_create(bpf_tc_hook* hook);

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_tc_attach(bpf_tc_hook* hook, bpf_tc_opts* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_tc_query(bpf_tc_hook* hook, bpf_tc_opts* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_tc_detach(bpf_tc_hook* hook, bpf_tc_opts* opts);

        // bpf_tc_hook_destroy is deliberately not imported: with one attach point it flushes
        // every filter on that hook, with both it deletes the qdisc, foreign filters included.
    }
}
