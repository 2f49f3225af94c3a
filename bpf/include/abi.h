/* The contract between the BPF programs and the C# agent: map keys and values, limits and the
 * schema version. Mirrored in src/Microseg.Bpf/Abi and checked by the layout tests; any change
 * to a struct, a map's size or flags, or a map's meaning bumps MICROSEG_SCHEMA_VERSION.
 * UAPI types only, so that both clang -target bpf and the host compiler accept it. */
#ifndef MICROSEG_ABI_H
#define MICROSEG_ABI_H

#include <linux/types.h>

#define MICROSEG_SCHEMA_VERSION 4

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
	/* Bit (src & VERDICT_WORD_MASK) set: the pair has service (L4) rules, so the egress
	 * program consults the services map for the packet's protocol; the allow bit is then the
	 * verdict for packets of a protocol that map has no entry for. A pair whose bit is clear
	 * costs this one lookup and nothing more. */
	__u64 service;
	/* Counter slot (an index into `counters`) of each source's deciding rule, by bit: the rule
	 * whose verdict the allow bit is (or the destination's default-deny slot when no rule
	 * decides). A word exists when one of its sources is allowed, has service rules or is
	 * denied by a rule; an absent word is default deny for all 64 (nic_info.deny_slot). */
	__u16 slots[64];
};

/* nic_group value, keyed by the __u32 ifindex of the host-side guest NIC. */
struct nic_info {
	__u16 group;
	__u16 flags;      /* NIC_F_* of the NIC's group */
	__u16 deny_slot;  /* counter slot of the group's default deny (an audit slot when it audits) */
	__u16 reply_slot; /* counter slot of the replies let in to the group */
	__u16 infra_slot; /* counter slot of the infrastructure traffic let in to the group */
	__u16 pad;        /* 0 */
};

/* nic_info.flags: the group's switches. */
#define NIC_F_STATEFUL 1 /* replies to flows the guest opened pass (the flows map) */
#define NIC_F_INFRA 2    /* ARP, neighbour discovery and DHCP pass to the guest */
#define NIC_F_AUDIT 4    /* what would be dropped passes, is counted and reported as audit */

/* ---- services (L4 rules) ---- */

/* services: for a (destination group, source mark) pair whose verdict word has the service
 * bit set, one entry per IP protocol that some rule of the pair names. A packet of that
 * protocol with a destination port in one of ports[0..count) gets that range's action, any
 * other packet of the protocol (no port: not tcp/udp/sctp, a fragment after the first, a
 * truncated header) gets `otherwise`. Ranges are disjoint and sorted by lo, so the scan stops
 * at the first range above the port; they are never expanded into one entry per port. */
#define SERVICE_MAX_PORTS 16
#define SERVICES_MAX_ENTRIES 262144

#define SERVICE_DENY 0
#define SERVICE_ALLOW 1

struct service_key {
	__u16 dst;   /* destination group mark (the NIC's group) */
	__u16 src;   /* source mark (0 = untagged) */
	__u8 proto;  /* IP protocol number (6 tcp, 17 udp, 132 sctp, 1 icmp, 58 icmpv6, ...) */
	__u8 pad[3]; /* 0 */
};

struct service_port {
	__u16 lo; /* destination port range, host byte order, lo <= hi */
	__u16 hi;
};

struct service_value {
	__u8 count;     /* ranges in use, 0..SERVICE_MAX_PORTS */
	__u8 otherwise; /* SERVICE_ALLOW or SERVICE_DENY */
	__u8 actions[SERVICE_MAX_PORTS]; /* action of ports[i] */
	__u16 pad;      /* 0 */
	struct service_port ports[SERVICE_MAX_PORTS];
	__u16 slots[SERVICE_MAX_PORTS]; /* counter slot of the rule deciding ports[i] */
	__u16 otherwise_slot;           /* counter slot of the rule deciding `otherwise` */
	__u16 pad2;                     /* 0 */
};

/* ---- flows (stateful replies) ---- */

/* flows: the flows a guest opened, recorded when their packets leave the guest (ingress of
 * its NIC) and keyed by that NIC and the tuple as the guest sent it. A packet to the NIC
 * (egress) that the verdict denies passes if it is the reverse of a live entry (a reply) or an
 * ICMP error whose embedded header is a live entry's tuple (related). LRU: when the table is
 * full the least recently used entries go; a flow is only ever recorded, never allowed, by
 * that. Preallocated by the kernel (an LRU map cannot be otherwise), so its memory is fixed:
 * FLOWS_MAX_ENTRIES entries; the loader may set another size before load. */
#define FLOWS_MAX_ENTRIES 131072

#define FLOW_FAMILY_IPV4 2  /* AF_INET */
#define FLOW_FAMILY_IPV6 10 /* AF_INET6 */

struct flow_key {
	__u32 ifindex;  /* the guest NIC (host side) the flow left through */
	__u8 family;    /* FLOW_FAMILY_* */
	__u8 proto;     /* IP protocol number */
	__u16 pad;      /* 0 */
	__u32 saddr[4]; /* the guest's address, network byte order; IPv4 in saddr[0], rest 0 */
	__u32 daddr[4]; /* the peer's address, the same way */
	/* tcp/udp/sctp: the ports, network byte order. ICMP/ICMPv6 echo: the echo id (network
	 * byte order) in both. Other protocols: 0. */
	__u16 sport;
	__u16 dport;
};

struct flow_value {
	__u64 last_seen; /* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC, tick resolution) of the
			  * last packet either way */
	__u32 flags;     /* FLOW_F_* */
	__u32 pad;       /* 0 */
};

#define FLOW_F_FIN_OUT 1 /* tcp: the guest sent a FIN */
#define FLOW_F_FIN_IN 2  /* tcp: the peer sent a FIN back */

/* Idle timeouts: an entry idle for longer no longer counts (the programs delete it when they
 * meet it; the LRU evicts it when space is needed). A TCP entry also ends on a RST either way,
 * and gets the short closing timeout once both sides sent a FIN. */
#define FLOW_TIMEOUT_TCP_SEC 14400      /* TCP established: 4 hours */
#define FLOW_TIMEOUT_TCP_CLOSING_SEC 10 /* TCP after a FIN each way: 10 seconds */
#define FLOW_TIMEOUT_OTHER_SEC 180      /* UDP, ICMP echo and other protocols: 3 minutes */
/* last_seen is rewritten at most this often per entry, so that a busy flow costs a lookup per
 * packet and not a write. */
#define FLOW_REFRESH_SEC 1

/* ---- counters and events (observability) ---- */

/* counters: PERCPU_ARRAY of struct counter, indexed by a slot that the agent assigns per
 * (deciding rule, local destination group) and per local destination group for its default
 * deny, replies and infrastructure passes; a group that audits gets audit slots instead of
 * deny ones. The verdict word, the services entry and nic_info carry the slots, so counting
 * costs one inlined per-CPU array access and two adds. Slot 0 counts what has no slot yet
 * (never shown). Preallocated: COUNTERS_MAX_ENTRIES x 16 bytes per possible CPU. */
#define COUNTERS_MAX_ENTRIES 65536

struct counter {
	__u64 packets;
	__u64 bytes; /* skb->len: the frame from its Ethernet header */
};

/* events: RINGBUF of struct monitor_event, one per drop and per audit pass, and per new
 * allowed flow (a TCP SYN without ACK, an ICMP/ICMPv6 echo request) when monitor_config says
 * so. Rate-limited per NIC by a token bucket (monitor); events the bucket refuses or the full
 * ring cannot take are counted in the NIC's monitor_state.lost. */
#define EVENTS_RING_BYTES (256 * 1024)

#define MON_VERDICT_DROP 0
#define MON_VERDICT_ALLOW 1
#define MON_VERDICT_AUDIT 2

#define MON_REASON_RULE 0
#define MON_REASON_DEFAULT_DENY 1
#define MON_REASON_REPLY 2
#define MON_REASON_INFRA 3
#define MON_REASON_UNREADABLE 4

struct monitor_event {
	__u64 time_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 ifindex;  /* the guest NIC (host side) the packet was going to */
	__u32 len;      /* skb->len */
	__u16 src;      /* source mark (0 = untagged) */
	__u16 dst;      /* the NIC's group mark */
	__u16 sport;    /* network byte order; ICMP echo: the id; else 0 */
	__u16 dport;
	__u8 family;    /* FLOW_FAMILY_* or 0 (not IP: e.g. ARP) */
	__u8 proto;     /* IP protocol */
	__u8 verdict;   /* MON_VERDICT_* */
	__u8 reason;    /* MON_REASON_* */
	__u32 slot;     /* counter slot of the deciding rule when reason = MON_REASON_RULE, else 0 */
	__u32 saddr[4]; /* IPv4 in saddr[0], rest 0; network byte order */
	__u32 daddr[4];
};

/* monitor_config: ARRAY of one entry, written by the agent (rate and burst, on every apply)
 * and by a monitor (flags). rate 0: no events at all. */
#define MON_F_FLOWS 1 /* also report new allowed flows */
#define MON_DEFAULT_RATE 100  /* events per second per NIC */
#define MON_DEFAULT_BURST 200

struct monitor_config {
	__u32 rate;  /* events per second per NIC */
	__u32 burst; /* events a NIC may send at once after a quiet spell */
	__u32 flags; /* MON_F_* */
	__u32 pad;   /* 0 */
};

/* monitor: HASH of the __u32 ifindex of a guest NIC -> its token bucket and what it lost,
 * created by the programs on a NIC's first event. The bucket is a GCRA: an event is let
 * through when tat - now <= (burst - 1) / rate seconds, and then moves tat on by 1 / rate.
 * Updated without a lock: CPUs racing on one NIC may let a few more through. */
struct monitor_state {
	__u64 tat;  /* theoretical arrival time, bpf_ktime_get_ns() */
	__u64 sent; /* events written to the ring */
	__u64 lost; /* events refused by the bucket or by a full ring */
};
/* flow_epoch: one __u64 (an ARRAY map of FLOW_EPOCH_ENTRIES) that changes whenever an entry of
 * flows is deleted or may have been evicted. The programs keep, per CPU, the last flow they
 * found live (its key, the epoch and the jiffy they found it at) and let the next packet of
 * that flow skip the table while the epoch is unchanged and at most FLOW_CACHE_JIFFIES jiffies
 * went by (so an entry is still refreshed at least that often). The programs add 1 after each
 * insert (an LRU insert may evict) and each delete; whoever deletes or writes entries from user
 * space writes a new random value after doing so (never the value it read), which no cache can
 * hold. The same epoch guards each CPU's last services decision (pair, protocol, destination
 * port): whoever writes or deletes services entries from user space writes a new value too. */
#define FLOW_EPOCH_ENTRIES 1
#define FLOW_CACHE_JIFFIES 2

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
