// libbpf's bpf_link_create options (bpf.h), for links that need flags: XDP links carry their
// mode (generic skb or native driver) in opts.flags.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        internal const uint BPF_XDP = 37;

        // include/uapi/linux/if_link.h
        internal const uint XDP_FLAGS_SKB_MODE = 1u << 1;
        internal const uint XDP_FLAGS_DRV_MODE = 1u << 2;

        /// <summary>
        /// struct bpf_link_create_opts (libbpf 1.1), <c>sz</c> = sizeof: 64 bytes. Only the
        /// leading fields are named; the union at 32 (perf_event, kprobe_multi, tracing) stays
        /// zero, which libbpf requires for every attach type that does not use it.
        /// </summary>
        [StructLayout(LayoutKind.Explicit, Size = 64)]
        internal struct bpf_link_create_opts
        {
            [FieldOffset(0)] public nuint sz;
            [FieldOffset(8)] public uint flags;
            [FieldOffset(16)] public nint iter_info;
            [FieldOffset(24)] public uint iter_info_len;
            [FieldOffset(28)] public uint target_btf_id;
        }
    }
}
