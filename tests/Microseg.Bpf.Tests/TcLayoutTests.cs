// libbpf's tc structs (bpf_tc_hook, bpf_tc_opts) and constants against the real libbpf.h.
using Libbpf = Interop.Libbpf;

namespace Microseg.Bpf.Tests;

public sealed class TcLayoutTests
{
    [Fact]
    public void Tc_hook_and_opts_match_libbpf_h()
    {
        new CLayout("<bpf/libbpf.h>")
            .Size<Libbpf.bpf_tc_hook>("struct bpf_tc_hook")
            .Offset<Libbpf.bpf_tc_hook>("sz", "struct bpf_tc_hook", "sz")
            .Offset<Libbpf.bpf_tc_hook>("ifindex", "struct bpf_tc_hook", "ifindex")
            .Offset<Libbpf.bpf_tc_hook>("attach_point", "struct bpf_tc_hook", "attach_point")
            .Offset<Libbpf.bpf_tc_hook>("parent", "struct bpf_tc_hook", "parent")
            .Constant("sizeof(enum bpf_tc_attach_point)", sizeof(uint))
            .Size<Libbpf.bpf_tc_opts>("struct bpf_tc_opts")
            .Offset<Libbpf.bpf_tc_opts>("sz", "struct bpf_tc_opts", "sz")
            .Offset<Libbpf.bpf_tc_opts>("prog_fd", "struct bpf_tc_opts", "prog_fd")
            .Offset<Libbpf.bpf_tc_opts>("flags", "struct bpf_tc_opts", "flags")
            .Offset<Libbpf.bpf_tc_opts>("prog_id", "struct bpf_tc_opts", "prog_id")
            .Offset<Libbpf.bpf_tc_opts>("handle", "struct bpf_tc_opts", "handle")
            .Offset<Libbpf.bpf_tc_opts>("priority", "struct bpf_tc_opts", "priority")
            .Constant("BPF_TC_INGRESS", Libbpf.BPF_TC_INGRESS)
            .Constant("BPF_TC_EGRESS", Libbpf.BPF_TC_EGRESS)
            .Constant("BPF_TC_F_REPLACE", Libbpf.BPF_TC_F_REPLACE)
            .Compile();
    }
}
