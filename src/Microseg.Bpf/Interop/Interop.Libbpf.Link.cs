// libbpf's link wrappers (bpf.h) and our mirror of the kernel's struct bpf_link_info, which
// libbpf 1.1 and Debian 12's UAPI headers define without the tcx member.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        internal const uint BPF_TCX_INGRESS = 46;
        internal const uint BPF_TCX_EGRESS = 47;

        /// <summary>
        /// struct bpf_link_info as of kernel 6.18 (64 bytes, 8-byte aligned). The union after
        /// type/id/prog_id starts at 16; its tcx member is { __u32 ifindex; __u32 attach_type; }.
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 64)]
        internal struct bpf_link_info
        {
            [FieldOffset(0)] public uint type;
            [FieldOffset(4)] public uint id;
            [FieldOffset(8)] public uint prog_id;
            [FieldOffset(16)] public uint tcx_ifindex;
            [FieldOffset(20)] public uint tcx_attach_type;
        }

        /// <summary>target_fd is the ifindex for tcx; opts may be NULL.</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_link_create(int prog_fd, int target_fd, uint attach_type, nint opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_link_update(int link_fd, int new_prog_fd, nint opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_link_detach(int link_fd);
    }
}
