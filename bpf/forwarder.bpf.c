// SPDX-License-Identifier: GPL-2.0
/* XDP forwarder (SPEC §7): a driver VM multiplexes its physical NICs onto one link to a router
 * VM. On each physical interface forwarder_physical pushes an 802.1Q tag whose VLAN id names
 * that interface and redirects the frame to its router interface; on the router interface
 * forwarder_router pops the outer tag and redirects the frame to the physical interface the
 * VLAN id names. Redirects go through devmaps that hold only interfaces the agent registered,
 * never an ifindex taken from a frame. Anything malformed or unknown is dropped. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "abi.h"

/* The 802.1Q header after the MAC addresses (not in the UAPI headers). */
struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

#define VLAN_VID_MASK 0x0fff
#define MAC_PAIR_LEN (2 * ETH_ALEN)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FWD_PORTS_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct fwd_port);
} fwd_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, FWD_ROUTERS_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} fwd_routers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, FWD_VLANS_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} fwd_vlans SEC(".maps");

/* Frames from a physical interface: tag with its VLAN id, send to its router. */
SEC("xdp")
int forwarder_physical(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct fwd_port *port = bpf_map_lookup_elem(&fwd_ports, &ifindex);
	if (!port)
		return XDP_DROP; /* not registered (any more): forward nothing */
	__u32 router = port->router_ifindex;
	__u16 vlan = port->vlan_id;
	if (vlan < FWD_VLAN_MIN || vlan > FWD_VLAN_MAX)
		return XDP_DROP;

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + ETH_HLEN > data_end)
		return XDP_DROP; /* truncated */

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct vlan_hdr)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + ETH_HLEN + sizeof(struct vlan_hdr) > data_end)
		return XDP_DROP;

	/* Move the MAC addresses to the new start; the old EtherType stays where it is and
	 * becomes the tag's encapsulated protocol. Copy through a local: the ranges overlap. */
	__u8 macs[MAC_PAIR_LEN];
	__builtin_memcpy(macs, data + sizeof(struct vlan_hdr), MAC_PAIR_LEN);
	__builtin_memcpy(data, macs, MAC_PAIR_LEN);
	struct ethhdr *eth = data;
	struct vlan_hdr *tag = (void *)(eth + 1);
	eth->h_proto = bpf_htons(ETH_P_8021Q);
	tag->tci = bpf_htons(vlan);

	return bpf_redirect_map(&fwd_routers, router, XDP_DROP);
}

/* Frames from the router: the outer tag names the physical interface; pop it and send there. */
SEC("xdp")
int forwarder_router(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct vlan_hdr *tag = (void *)(eth + 1);
	if ((void *)(tag + 1) > data_end)
		return XDP_DROP; /* truncated, or too short to carry a tag */
	if (eth->h_proto != bpf_htons(ETH_P_8021Q))
		return XDP_DROP; /* untagged: nothing names a physical interface */

	__u32 vlan = bpf_ntohs(tag->tci) & VLAN_VID_MASK;
	__u32 *physical = bpf_map_lookup_elem(&fwd_vlans, &vlan);
	if (!physical)
		return XDP_DROP; /* unknown VLAN id (0 and 4095 are never registered) */
	__u32 physical_ifindex = *physical;
	struct fwd_port *port = bpf_map_lookup_elem(&fwd_ports, &physical_ifindex);
	if (!port || port->vlan_id != vlan || port->router_ifindex != ctx->ingress_ifindex)
		return XDP_DROP; /* that VLAN belongs to another forwarder's router */

	__u8 macs[MAC_PAIR_LEN];
	__builtin_memcpy(macs, data, MAC_PAIR_LEN);
	__builtin_memcpy(data + sizeof(struct vlan_hdr), macs, MAC_PAIR_LEN);
	if (bpf_xdp_adjust_head(ctx, (int)sizeof(struct vlan_hdr)))
		return XDP_DROP;

	return bpf_redirect_map(&fwd_vlans, vlan, XDP_DROP);
}

/* The baseline of the benchmark, and what a veth peer needs attached in native mode so that
 * frames redirected to it are accepted (veth's ndo_xdp_xmit needs the peer's XDP rings). */
SEC("xdp")
int forwarder_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

#ifdef MICROSEG_TEST_VARIANT
/* A second build of this object with another fingerprint, for the upgrade tests (make builds
 * it as forwarder.variant.bpf.o; never embedded). */
SEC("xdp")
int forwarder_variant_marker(struct xdp_md *ctx)
{
	return ctx->ingress_ifindex > 0 ? XDP_PASS : XDP_PASS;
}
#endif
