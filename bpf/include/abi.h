/* The contract between the BPF programs and the C# agent: map keys and values, limits and the
 * schema version. Mirrored in src/Microseg.Bpf/Abi and checked by the layout tests; any change
 * to a struct, a map's size or flags, or a map's meaning bumps MICROSEG_SCHEMA_VERSION.
 * UAPI types only, so that both clang -target bpf and the host compiler accept it. */
#ifndef MICROSEG_ABI_H
#define MICROSEG_ABI_H

#include <linux/types.h>

#define MICROSEG_SCHEMA_VERSION 2

#define NIC_GROUP_MAX_ENTRIES 65536

/* The group travels in the low 16 bits of skb->mark; the upper 16 bits belong to others. */
#define MARK_GROUP_MASK 0xffff

/* verdicts: the verdict of every source mark (0 = untagged, then each group's mark) for each
 * local destination group, as 64-bit masks. A source mark picks a word by its upper 10 bits
 * (src >> VERDICT_WORD_SHIFT) and a bit in it by its lower 6 (src & VERDICT_WORD_MASK). Only
 * words with a bit set are stored: an absent word denies its 64 sources. So a destination group
 * costs at most VERDICT_WORDS_PER_DST entries whatever its rules say, and one verdict lookup
 * answers a packet. */
#define VERDICT_WORD_SHIFT 6
#define VERDICT_WORD_MASK 63
#define VERDICT_WORDS_PER_DST 1024 /* 65,536 source marks / 64 */
#define VERDICTS_MAX_DSTS 1024     /* local destination groups the map holds in the worst case */
#define VERDICTS_MAX_ENTRIES (VERDICTS_MAX_DSTS * VERDICT_WORDS_PER_DST)

struct verdict_key {
	__u16 dst;    /* destination group mark (the NIC's group) */
	__u16 src_hi; /* source mark >> VERDICT_WORD_SHIFT: 0..VERDICT_WORDS_PER_DST - 1 */
};

struct verdict_value {
	/* Bit (src & VERDICT_WORD_MASK) set: packets from that source mark are allowed. */
	__u64 allow;
	/* Reserved for service (L4) rules, so that they need no schema change: a set bit will
	 * say "this pair has service rules, consult the service map". Written as 0 today and not
	 * read by the programs. */
	__u64 service;
};

/* nic_group value, keyed by the __u32 ifindex of the host-side guest NIC. */
struct nic_info {
	__u16 group;
	__u16 flags;
};

/* ---- carrier (SRv6 tag) ---- */

/* The SRv6 carrier (SPEC §5.2) needs no maps: it moves the group between skb->mark and the Tag
 * of the packet's Segment Routing Header. What C# shares with it is the wire format it parses
 * and the bounds of that parse, so that tests and tools build the same packets. */

/* The fixed part of an SRv6 Segment Routing Header (RFC 8754): an IPv6 routing header of type
 * SRH_ROUTING_TYPE, followed by (hdr_ext_len * 8) bytes of segments and TLVs. The tag is in
 * network byte order. */
struct srh_fixed {
	__u8 next_hdr;
	__u8 hdr_ext_len;
	__u8 routing_type; /* SRH_ROUTING_TYPE */
	__u8 segments_left;
	__u8 last_entry;
	__u8 flags;
	__be16 tag;
};

#define SRH_ROUTING_TYPE 4

/* The carrier has no maps; its pinned layout (programs and links under <bpffs>/carrier/) has a
 * version of its own all the same, for the day it gets one. */
#define CARRIER_SCHEMA_VERSION 1

/* 802.1Q/802.1ad tags parsed in the frame's data (one more may sit in skb->vlan_tci, outside
 * the data). A frame with more is left untouched, on both sides alike. */
#define CARRIER_MAX_VLAN_TAGS 2

/* IPv6 extension headers (hop-by-hop, destination options) walked before the routing header.
 * A packet whose SRH lies further in is left untouched, on both sides alike. */
#define CARRIER_MAX_EXT_HEADERS 8

/* The most bytes the parse reads: Ethernet, the VLAN tags, IPv6, the longest chain of
 * extension headers (2048 bytes each at most) and the SRH's fixed part. */
#define CARRIER_PARSE_LIMIT (14 + 4 * CARRIER_MAX_VLAN_TAGS + 40 + 2048 * CARRIER_MAX_EXT_HEADERS + 8)

/* ---- forwarder (XDP) ---- */

/* The forwarder's maps have their own schema version (its pins live apart from policy's). */
#define FORWARDER_SCHEMA_VERSION 1

/* 802.1Q VLAN ids that name a physical interface: 0 (priority tag) and 4095 are reserved. */
#define FWD_VLAN_MIN 1
#define FWD_VLAN_MAX 4094

#define FWD_PORTS_MAX_ENTRIES 4096   /* physical interfaces (one VLAN id each) */
#define FWD_ROUTERS_MAX_ENTRIES 256  /* router interfaces (one per forwarder) */
#define FWD_VLANS_MAX_ENTRIES 4096   /* keyed by VLAN id */

/* fwd_ports value, keyed by the __u32 ifindex of a registered physical interface. The router
 * program checks a VLAN's port against the router the frame came from, so that one forwarder's
 * router cannot reach another forwarder's physical interfaces. */
struct fwd_port {
	__u32 router_ifindex; /* where this interface's frames go (a key of fwd_routers) */
	__u16 vlan_id;        /* the tag its frames get; FWD_VLAN_MIN..FWD_VLAN_MAX */
	__u16 flags;          /* 0; reserved */
};

/* fwd_routers (DEVMAP_HASH, router ifindex -> router ifindex) and fwd_vlans (DEVMAP_HASH,
 * VLAN id -> physical ifindex) hold a bare __u32 ifindex as their value (the 4-byte form of
 * struct bpf_devmap_val: no program on the egress device). */

#endif /* MICROSEG_ABI_H */
