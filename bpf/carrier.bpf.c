// SPDX-License-Identifier: GPL-2.0
/* SRv6 carrier (SPEC §5.2), attached with tcx links to each configured carrier interface (the
 * `bridge` sections): egress writes the packet's group (the low 16 bits of skb->mark) into the
 * Tag of its Segment Routing Header, ingress copies the Tag back into the low 16 bits of the
 * mark. Every packet that is not IPv6 with an SRH is left as it is. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "abi.h"
#include "mark.h"

/* The carrier only annotates packets: it returns TCX_NEXT so that the programs attached after
 * it decide. */

struct vlan_tag {
	__be16 tci;
	__be16 next_proto;
};

enum parse_result {
	PARSE_SRH,      /* *srh_off is the offset of a type-4 routing header, *tag its tag */
	PARSE_NONE,     /* not IPv6 with an SRH within our bounds: leave the packet alone */
	PARSE_PULL,     /* the headers go on past the linear data: pull and parse again */
};

/* The next `size` bytes at `off` must be in the linear data. When they are not but the packet
 * is long enough, the headers are in its paged part: say so, so that the caller pulls them. */
#define NEED(size)                                                                              \
	do {                                                                                    \
		if (data + off + (size) > data_end)                                             \
			return off + (size) > skb->len ? PARSE_NONE : PARSE_PULL;               \
	} while (0)

/* Finds the SRH: Ethernet, up to CARRIER_MAX_VLAN_TAGS 802.1Q/802.1ad tags, IPv6, up to
 * CARRIER_MAX_EXT_HEADERS hop-by-hop or destination-options headers, then a routing header of
 * type 4. Any other header, or more of them, ends the search: RFC 8200 puts only those two
 * before the routing header. */
static __always_inline enum parse_result find_srh(struct __sk_buff *skb, __u32 *srh_off, __be16 *tag)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 off = 0;

	NEED(sizeof(struct ethhdr));
	__be16 proto = ((struct ethhdr *)data)->h_proto;
	off = sizeof(struct ethhdr);

	for (int i = 0; i < CARRIER_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		NEED(sizeof(struct vlan_tag));
		proto = ((struct vlan_tag *)(data + off))->next_proto;
		off += sizeof(struct vlan_tag);
	}
	if (proto != bpf_htons(ETH_P_IPV6))
		return PARSE_NONE;

	NEED(sizeof(struct ipv6hdr));
	__u8 next = ((struct ipv6hdr *)(data + off))->nexthdr;
	off += sizeof(struct ipv6hdr);

	for (int i = 0; i <= CARRIER_MAX_EXT_HEADERS; i++) {
		if (next == IPPROTO_ROUTING) {
			NEED(sizeof(struct srh_fixed));
			struct srh_fixed *srh = data + off;
			if (srh->routing_type != SRH_ROUTING_TYPE)
				return PARSE_NONE;
			*srh_off = off;
			*tag = srh->tag;
			return PARSE_SRH;
		}
		if (i == CARRIER_MAX_EXT_HEADERS || (next != IPPROTO_HOPOPTS && next != IPPROTO_DSTOPTS))
			return PARSE_NONE;
		NEED(sizeof(struct ipv6_opt_hdr));
		struct ipv6_opt_hdr *opt = data + off;
		next = opt->nexthdr;
		off += ((__u32)opt->hdrlen + 1) * 8;
	}
	return PARSE_NONE;
}

/* find_srh, pulling the headers into the linear data once when they are not all there: a
 * guest must not be able to hide its SRH (and a forged tag) from the egress program in the
 * paged part of a packet. PARSE_PULL comes back only when the packet could not be read. */
static __always_inline enum parse_result locate_srh(struct __sk_buff *skb, __u32 *srh_off, __be16 *tag)
{
	enum parse_result r = find_srh(skb, srh_off, tag);
	if (r != PARSE_PULL)
		return r;
	__u32 len = skb->len < CARRIER_PARSE_LIMIT ? skb->len : CARRIER_PARSE_LIMIT;
	if (bpf_skb_pull_data(skb, len))
		return PARSE_PULL;
	return find_srh(skb, srh_off, tag);
}

SEC("tc")
int carrier_egress(struct __sk_buff *skb)
{
	__u32 srh_off;
	__be16 claimed; /* the sender's tag: replaced, never trusted */
	enum parse_result r = locate_srh(skb, &srh_off, &claimed);
	if (r == PARSE_PULL)
		return TCX_DROP; /* unreadable: it must not leave with a tag we did not write */
	if (r != PARSE_SRH)
		return TCX_NEXT;

	/* Always written, 0 included: whatever tag the sender chose (a guest's own SRv6 packet)
	 * is replaced by the group this host stamped on it. */
	__be16 tag = bpf_htons(skb->mark & MARK_GROUP_MASK);
	/* The helper rather than a direct write: a direct write makes the verifier add a prologue
	 * that unclones every packet (every TCP segment is a clone), SRv6 or not. The helper
	 * unclones only what it writes and fixes skb->csum for CHECKSUM_COMPLETE packets. */
	bpf_skb_store_bytes(skb, srh_off + __builtin_offsetof(struct srh_fixed, tag), &tag, sizeof(tag),
			    BPF_F_RECOMPUTE_CSUM);
	return TCX_NEXT;
}

SEC("tc")
int carrier_ingress(struct __sk_buff *skb)
{
	__u32 srh_off;
	__be16 tag;
	if (locate_srh(skb, &srh_off, &tag) != PARSE_SRH)
		return TCX_NEXT;

	set_mark_group(skb, bpf_ntohs(tag));
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";

#ifdef MICROSEG_TEST_VARIANT
/* A second build of this object with another fingerprint, for the upgrade tests (make builds
 * it as carrier.variant.bpf.o; never embedded). The carrier programs stay the same. */
SEC("tc")
int carrier_variant_marker(struct __sk_buff *skb)
{
	return skb->len > 0 ? TCX_NEXT : TCX_NEXT;
}
#endif
