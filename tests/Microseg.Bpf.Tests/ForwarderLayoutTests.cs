// The forwarder's mirrored structs against the headers they mirror (STYLE: layout tier):
// abi.h's forwarder section, libbpf 1.1's bpf_link_create_opts, the kernel's struct xdp_md.
using Microseg.Bpf.Abi;
using Libbpf = Interop.Libbpf;

namespace Microseg.Bpf.Tests;

public sealed class ForwarderLayoutTests
{
    [Fact]
    public void Forwarder_abi_matches_abi_h()
    {
        new CLayout("\"abi.h\"")
            .Size<ForwarderPort>("struct fwd_port")
            .Offset<ForwarderPort>("RouterIfIndex", "struct fwd_port", "router_ifindex")
            .Offset<ForwarderPort>("VlanId", "struct fwd_port", "vlan_id")
            .Offset<ForwarderPort>("Flags", "struct fwd_port", "flags")
            .Constant("FORWARDER_SCHEMA_VERSION", ForwarderAbi.SchemaVersion)
            .Constant("FWD_VLAN_MIN", ForwarderAbi.VlanMin)
            .Constant("FWD_VLAN_MAX", ForwarderAbi.VlanMax)
            .Constant("FWD_PORTS_MAX_ENTRIES", ForwarderAbi.PortsMaxEntries)
            .Constant("FWD_ROUTERS_MAX_ENTRIES", ForwarderAbi.RoutersMaxEntries)
            .Constant("FWD_VLANS_MAX_ENTRIES", ForwarderAbi.VlansMaxEntries)
            .Compile();
    }

    [Fact]
    public void Link_create_opts_match_libbpf_1_1()
    {
        new CLayout("<bpf/bpf.h>", "<linux/if_link.h>")
            .Size<Libbpf.bpf_link_create_opts>("struct bpf_link_create_opts")
            .Offset<Libbpf.bpf_link_create_opts>("sz", "struct bpf_link_create_opts", "sz")
            .Offset<Libbpf.bpf_link_create_opts>("flags", "struct bpf_link_create_opts", "flags")
            .Offset<Libbpf.bpf_link_create_opts>("iter_info", "struct bpf_link_create_opts", "iter_info")
            .Offset<Libbpf.bpf_link_create_opts>("iter_info_len", "struct bpf_link_create_opts", "iter_info_len")
            .Offset<Libbpf.bpf_link_create_opts>("target_btf_id", "struct bpf_link_create_opts", "target_btf_id")
            .Constant("BPF_XDP", Libbpf.BPF_XDP)
            .Constant("XDP_FLAGS_SKB_MODE", (long)XdpMode.Skb)
            .Constant("XDP_FLAGS_DRV_MODE", (long)XdpMode.Native)
            .Compile();
    }

    [Fact]
    public void Xdp_md_matches_the_uapi_header()
    {
        new CLayout("<linux/bpf.h>")
            .Size<XdpMd>("struct xdp_md")
            .Offset<XdpMd>("Data", "struct xdp_md", "data")
            .Offset<XdpMd>("DataEnd", "struct xdp_md", "data_end")
            .Offset<XdpMd>("DataMeta", "struct xdp_md", "data_meta")
            .Offset<XdpMd>("IngressIfIndex", "struct xdp_md", "ingress_ifindex")
            .Offset<XdpMd>("RxQueueIndex", "struct xdp_md", "rx_queue_index")
            .Offset<XdpMd>("EgressIfIndex", "struct xdp_md", "egress_ifindex")
            .Compile();
    }
}
