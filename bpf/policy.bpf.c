// SPDX-License-Identifier: GPL-2.0
/* Guest NIC policy, attached to the host side of each guest NIC.
 *
 * Ingress (packets from the guest) stamps the NIC's group into the low 16 bits of skb->mark;
 * when the group is stateful it also records the flow the packet belongs to (the flows map).
 *
 * Egress (packets to the guest) decides:
 *   1. the NIC's group (unknown NIC: drop), then the verdict word of (group, source mark);
 *   2. the source's allow bit set and its service bit clear: pass. This is the whole cost of a
 *      pair without service rules: two lookups and no look at the packet;
 *   3. service bit set: the packet's protocol and destination port against the services entry
 *      of the pair (no entry for the protocol: the allow bit decides);
 *   4. denied: infrastructure traffic (ARP, neighbour discovery, DHCP) passes if the group
 *      lets it; a reply to a flow the guest opened, or an ICMP error about one, passes if the
 *      group is stateful; anything else is dropped, or passes as audit when the group audits.
 * Every outcome is counted on a slot of the counters map (the deciding rule's, or the group's
 * default deny, reply or infrastructure slot); drops and audit passes are reported on the
 * events ring, rate-limited per NIC. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "abi.h"
#include "mark.h"

/* BPF_F_NO_PREALLOC: entries are allocated on update, so a mostly empty map does not pin
 * kernel memory for all of its 1M slots on every host. Lookups cost the same. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NIC_GROUP_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct nic_info);
} nic_group SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VERDICTS_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct verdict_key);
	__type(value, struct verdict_value);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SERVICES_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct service_key);
	__type(value, struct service_value);
} services SEC(".maps");

/* An LRU map is always preallocated; its size is the loader's to change (bpf_map__set_max_entries
 * before load), FLOWS_MAX_ENTRIES otherwise. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FLOWS_MAX_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTERS_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NIC_GROUP_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct monitor_state);
} monitor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct monitor_config);
} monitor_config SEC(".maps");
/* Changes whenever an entry of flows is deleted or may have been evicted (abi.h). Pinned, so
 * that the agent can change it after deleting flows. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLOW_EPOCH_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} flow_epoch SEC(".maps");

/* The last flow each CPU found live in flows, one slot for each program; not pinned (a new
 * program starts with empty slots). */
struct flow_cache_entry {
	struct flow_key key; /* at offset 0 of an 8-byte aligned map value */
	__u32 pad;
	__u64 epoch;   /* flow_epoch when the entry was found */
	__u64 jiffies; /* bpf_jiffies64() then */
};

#define FLOW_CACHE_INGRESS 0
#define FLOW_CACHE_EGRESS 1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct flow_cache_entry);
} flow_cache SEC(".maps");

/* The last services decision each CPU made (a pair with service rules, a protocol with ports, a
 * destination port), valid while flow_epoch keeps the value it had when it was made: user space
 * changes it after writing or deleting services entries, as after flows. Not pinned. */
struct service_cache_entry {
	struct service_key key; /* at offset 0 of an 8-byte aligned map value: one word */
	__be16 dport;
	__u8 allowed;
	__u8 pad;
	__u32 slot;
	__u64 epoch;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct service_cache_entry);
} service_cache SEC(".maps");

#define NS_PER_SEC 1000000000ULL

/* IPv6 extension headers walked to find the transport protocol. A longer chain makes the
 * packet opaque: it can be neither a reply nor infrastructure traffic, and a pair with service
 * rules denies it (its port cannot be known). */
#define MAX_EXT_HEADERS 8
/* The most bytes the parse reads from the start of the frame: Ethernet, IPv4 with options or
 * IPv6 with its extension headers, the transport header; for an ICMP error the same again
 * for the packet it quotes. Headers past the linear data are pulled into it once. */
#define PARSE_PULL_LIMIT 1024

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_TIME_EXCEED 3
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129
#define ICMPV6_ND_FIRST 133 /* router solicitation */
#define ICMPV6_ND_LAST 137  /* redirect */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* What the programs need to know about a packet. Addresses and ports stay in network byte
 * order, as the flows map keeps them. */
struct pkt {
	__u32 saddr[4];
	__u32 daddr[4];
	__be16 eth_proto;
	__be16 sport;      /* ports: tcp/udp/sctp ports; icmp echo: the echo id in both */
	__be16 dport;
	__u16 l4_off;      /* offset of the transport header in the frame */
	__u8 family;       /* FLOW_FAMILY_*, 0 = not IP */
	__u8 proto;        /* IP protocol of the transport header */
	__u8 ports;        /* sport/dport hold the ports of a tcp/udp/sctp header */
	__u8 tcp_flags;
	__u8 icmp;         /* an ICMP/ICMPv6 header is present: icmp_type is valid */
	__u8 icmp_type;
	__u8 later_fragment; /* a fragment after the first: no transport header */
	__u8 opaque;       /* IP, but its transport protocol could not be found */
};

enum parse_result {
	PARSE_OK,   /* the packet is described as far as it goes */
	PARSE_PULL, /* the headers go on past the linear data: pull and parse again */
};

/* The `size` bytes at `at` (offset `off` in the frame) must be in the linear data. When they
 * are not but the packet is long enough, the headers are in its paged part: say so, so that
 * the caller pulls them. When the packet is too short, `short_action` ends the parse there. */
#define NEED(at, size, short_action)                                                            \
	do {                                                                                    \
		if (off > PARSE_PULL_LIMIT)                                                     \
			{ p->opaque = 1; return PARSE_OK; }                                     \
		if ((void *)(at) + (size) > data_end) {                                         \
			if (off + (size) <= skb->len && skb->len > (__u32)(data_end - data))    \
				return PARSE_PULL;                                              \
			short_action;                                                           \
		}                                                                               \
	} while (0)

static __always_inline int is_port_proto(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* The IP header at `off` and the transport header after it. `inner`: the packet quoted in an
 * ICMP error, of which only the first 8 bytes of the transport header are guaranteed (the
 * ports and the ICMP echo id are within them). */
/* A global function: the verifier checks it once, for any offset, rather than once for every
 * path that reaches each of its callers. */
__noinline int parse_ip(struct __sk_buff *skb, __u32 off, __u32 eth_proto, struct pkt *p, __u32 inner)
{
	if (!p)
		return PARSE_OK;
	/* Bounds every offset below: the start, plus at most MAX_EXT_HEADERS headers of at most
	 * 2 KiB each, stays within what the verifier accepts as a packet offset. */
	if (off > PARSE_PULL_LIMIT) {
		p->opaque = 1;
		return PARSE_OK;
	}
	/* The same bound again, on the register the offsets are computed from: the compiler
	 * tests a zero-extended copy, which tells the verifier nothing about the original. */
	barrier_var(off);
	off &= 2 * PARSE_PULL_LIMIT - 1;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 proto;
	if (eth_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		NEED(ip, sizeof(*ip), return PARSE_OK);
		if (ip->version != 4 || ip->ihl < 5) {
			p->opaque = 1;
			return PARSE_OK;
		}
		p->family = FLOW_FAMILY_IPV4;
		p->saddr[0] = ip->saddr;
		p->daddr[0] = ip->daddr;
		proto = ip->protocol;
		p->later_fragment = (ip->frag_off & bpf_htons(0x1fff)) != 0;
		off += (__u32)ip->ihl * 4;
	} else if (eth_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		NEED(ip6, sizeof(*ip6), return PARSE_OK);
		p->family = FLOW_FAMILY_IPV6;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		proto = ip6->nexthdr;
		off += sizeof(struct ipv6hdr);
		int i;
		for (i = 0; i < MAX_EXT_HEADERS; i++) {
			if (proto == IPPROTO_FRAGMENT) {
				struct frag_hdr { __u8 nexthdr, reserved; __be16 frag_off; __be32 id; } *frag = data + off;
				NEED(frag, sizeof(*frag), { p->opaque = 1; return PARSE_OK; });
				proto = frag->nexthdr;
				off += 8;
				if (frag->frag_off & bpf_htons(0xfff8)) {
					p->later_fragment = 1;
					break;
				}
			} else if (proto == IPPROTO_HOPOPTS || proto == IPPROTO_ROUTING || proto == IPPROTO_DSTOPTS ||
				   proto == IPPROTO_AH) {
				struct ipv6_opt_hdr *opt = data + off;
				NEED(opt, sizeof(*opt), { p->opaque = 1; return PARSE_OK; });
				__u32 len = proto == IPPROTO_AH ? ((__u32)opt->hdrlen + 2) * 4 : ((__u32)opt->hdrlen + 1) * 8;
				proto = opt->nexthdr;
				off += len;
			} else {
				break;
			}
		}
		if (i == MAX_EXT_HEADERS) {
			p->opaque = 1;
			return PARSE_OK;
		}
	} else {
		return PARSE_OK;
	}

	p->proto = proto;
	p->l4_off = off;
	if (p->later_fragment)
		return PARSE_OK;
	if (is_port_proto(proto)) {
		/* The ports are the first 4 bytes of all three; TCP's flags are byte 13. A header
		 * shorter than that has no port (and so matches no port rule and no flow). */
		__u8 *l4 = data + off;
		if (!inner && proto == IPPROTO_TCP) {
			NEED(l4, 14, return PARSE_OK);
			p->tcp_flags = l4[13];
		} else {
			NEED(l4, 4, return PARSE_OK);
		}
		p->sport = *(__be16 *)l4;
		p->dport = *(__be16 *)(l4 + 2);
		p->ports = 1;
	} else if ((proto == IPPROTO_ICMP && p->family == FLOW_FAMILY_IPV4) ||
		   (proto == IPPROTO_ICMPV6 && p->family == FLOW_FAMILY_IPV6)) {
		__u8 *icmp = data + off;
		NEED(icmp, 8, return PARSE_OK);
		p->icmp = 1;
		p->icmp_type = icmp[0];
		__be16 id = *(__be16 *)(icmp + 4);
		p->sport = id;
		p->dport = id;
	}
	return PARSE_OK;
}

static __always_inline enum parse_result parse_frame(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 off = 0;
	struct ethhdr *eth = data;
	NEED(eth, sizeof(*eth), return PARSE_OK);
	p->eth_proto = eth->h_proto;
	return parse_ip(skb, sizeof(struct ethhdr), p->eth_proto, p, 0);
}

/* parse_frame, pulling the headers into the linear data once when they are not all there.
 * Returns 0 when the packet could not be read at all (the pull failed). */
/* The common case without a call: IPv4 without options or IPv6 without extension headers,
 * unfragmented or a first fragment, carrying tcp, udp or sctp, all in the linear data. Returns
 * 0 for anything else, which parse_ip then reads in full. */
static __always_inline int parse_fast(struct __sk_buff *skb, struct pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 *l4;
	__u8 proto;
	if ((void *)(eth + 1) > data_end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return 0;
		if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x1fff)))
			return 0;
		proto = ip->protocol;
		p->family = FLOW_FAMILY_IPV4;
		p->saddr[0] = ip->saddr;
		p->daddr[0] = ip->daddr;
		l4 = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return 0;
		proto = ip6->nexthdr;
		p->family = FLOW_FAMILY_IPV6;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		l4 = (void *)(ip6 + 1);
	} else {
		return 0;
	}
	if (proto == IPPROTO_TCP) {
		if ((void *)(l4 + 14) > data_end)
			return 0;
		p->tcp_flags = l4[13];
	} else if (proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		if ((void *)(l4 + 4) > data_end)
			return 0;
	} else {
		return 0;
	}
	p->eth_proto = eth->h_proto;
	p->proto = proto;
	p->sport = *(__be16 *)l4;
	p->dport = *(__be16 *)(l4 + 2);
	p->ports = 1;
	p->l4_off = l4 - (__u8 *)data;
	return 1;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	if (parse_fast(skb, p))
		return 1;
	__builtin_memset(p, 0, sizeof(*p));
	if (parse_frame(skb, p) != PARSE_PULL)
		return 1;
	__u32 len = skb->len < PARSE_PULL_LIMIT ? skb->len : PARSE_PULL_LIMIT;
	if (bpf_skb_pull_data(skb, len))
		return 0;
	__builtin_memset(p, 0, sizeof(*p));
	return parse_frame(skb, p) == PARSE_OK;
}

/* ---- services ---- */

/* The pair's verdict for this packet from its services entry for the packet's protocol: a
 * binary search for the last range starting at or below the port (the ranges are sorted and
 * disjoint), which holds the port or no range does. Five halvings cover 16 ranges. The
 * deciding rule's counter slot goes to *slot. */
static __always_inline int service_allows(const struct service_value *svc, const struct pkt *p, __u32 *slot)
{
	if (!p->ports) {
		*slot = svc->otherwise_slot;
		return svc->otherwise == SERVICE_ALLOW;
	}
	__u16 port = bpf_ntohs(p->dport);
	__u32 lo = 0, hi = svc->count; /* ranges [lo, hi) are still in question */
	if (hi > SERVICE_MAX_PORTS)
		hi = SERVICE_MAX_PORTS;
	for (int i = 0; i < 5; i++) {
		if (lo >= hi)
			break;
		__u32 mid = ((lo + hi) / 2) & (SERVICE_MAX_PORTS - 1);
		if (port < svc->ports[mid].lo)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* lo ranges start at or below the port; the last of them is the candidate. */
	__u32 at = (lo - 1) & (SERVICE_MAX_PORTS - 1);
	if (lo > 0 && port <= svc->ports[at].hi) {
		*slot = svc->slots[at];
		return svc->actions[at] == SERVICE_ALLOW;
	}
	*slot = svc->otherwise_slot;
	return svc->otherwise == SERVICE_ALLOW;
}

/* The decision of the pair `sk` for a packet to `dport`: this CPU's last one when it was for
 * the same pair, protocol and port in the current epoch; else the services entry's, remembered
 * (with the epoch read before the lookup). No entry for the protocol: 0, and *allowed and
 * *slot stay the verdict word's. Only for packets with ports (the others are rare here). */
static __always_inline void service_decide(const struct service_key *sk, const struct pkt *p, __u32 *allowed, __u32 *slot)
{
	__u32 zero = 0;
	struct service_cache_entry *c = bpf_map_lookup_elem(&service_cache, &zero);
	__u64 *epoch = bpf_map_lookup_elem(&flow_epoch, &zero);
	__u64 seen = 0;
#ifdef MICROSEG_NO_SERVICE_CACHE
	/* The benchmark's build of every packet missing the cache (bench/, never shipped). */
	c = NULL;
#endif
	if (c && epoch) {
		seen = *(volatile __u64 *)epoch;
		if (c->epoch == seen && *(const __u64 *)&c->key == *(const __u64 *)sk && c->dport == p->dport) {
			*allowed = c->allowed;
			*slot = c->slot;
			return;
		}
	}
	struct service_value *svc = bpf_map_lookup_elem(&services, sk);
	if (!svc)
		return;
	*allowed = service_allows(svc, p, slot);
	if (c && epoch) {
		*(__u64 *)&c->key = *(const __u64 *)sk;
		c->dport = p->dport;
		c->allowed = *allowed;
		c->slot = *slot;
		c->epoch = seen;
	}
}

/* ---- infrastructure ---- */

static __always_inline int udp_pair(const struct pkt *p, __u16 a, __u16 b)
{
	__u16 s = bpf_ntohs(p->sport), d = bpf_ntohs(p->dport);
	return (s == a && d == b) || (s == b && d == a);
}

/* ARP, IPv6 neighbour discovery and router discovery (ICMPv6 133-137), DHCPv4 (UDP 67<->68),
 * DHCPv6 (UDP 546<->547). */
static __always_inline int is_infra(const struct pkt *p)
{
	if (p->eth_proto == bpf_htons(ETH_P_ARP))
		return 1;
	if (p->family == FLOW_FAMILY_IPV6 && p->proto == IPPROTO_ICMPV6 && p->icmp)
		return p->icmp_type >= ICMPV6_ND_FIRST && p->icmp_type <= ICMPV6_ND_LAST;
	if (p->proto == IPPROTO_UDP && p->ports)
		return p->family == FLOW_FAMILY_IPV4 ? udp_pair(p, 67, 68) : udp_pair(p, 546, 547);
	return 0;
}

/* ---- flows ---- */

static __always_inline int is_echo_request(const struct pkt *p)
{
	return p->icmp && (p->proto == IPPROTO_ICMP ? p->icmp_type == ICMP_ECHO : p->icmp_type == ICMPV6_ECHO_REQUEST);
}

static __always_inline int is_echo_reply(const struct pkt *p)
{
	return p->icmp && (p->proto == IPPROTO_ICMP ? p->icmp_type == ICMP_ECHOREPLY : p->icmp_type == ICMPV6_ECHO_REPLY);
}

static __always_inline int is_icmp_proto(__u8 proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/* The flow key of `p` on `ifindex`, as its sender sent it (reverse = 0) or as the packet it
 * answers was sent (reverse = 1). Returns 0 for packets that belong to no flow we track: a
 * later fragment or a tcp/udp/sctp packet without its ports, and ICMP other than an echo
 * request (reverse = 0) or an echo reply (reverse = 1). */
static __always_inline int flow_key_of(const struct pkt *p, __u32 ifindex, struct flow_key *k, const int reverse)
{
	if (is_port_proto(p->proto)) {
		if (!p->ports)
			return 0;
	} else if (is_icmp_proto(p->proto)) {
		if (reverse ? !is_echo_reply(p) : !is_echo_request(p))
			return 0;
	} else if (p->later_fragment) {
		return 0;
	}
	k->ifindex = ifindex;
	k->family = p->family;
	k->proto = p->proto;
	if (reverse) {
		__builtin_memcpy(k->saddr, p->daddr, 16);
		__builtin_memcpy(k->daddr, p->saddr, 16);
		k->sport = p->dport;
		k->dport = p->sport;
	} else {
		__builtin_memcpy(k->saddr, p->saddr, 16);
		__builtin_memcpy(k->daddr, p->daddr, 16);
		k->sport = p->sport;
		k->dport = p->dport;
	}
	if (!is_port_proto(p->proto) && !is_icmp_proto(p->proto)) {
		k->sport = 0;
		k->dport = 0;
	}
	return 1;
}

static __always_inline __u64 flow_timeout(const struct flow_key *k, const struct flow_value *v)
{
	if (k->proto != IPPROTO_TCP)
		return FLOW_TIMEOUT_OTHER_SEC * NS_PER_SEC;
	if ((v->flags & (FLOW_F_FIN_OUT | FLOW_F_FIN_IN)) == (FLOW_F_FIN_OUT | FLOW_F_FIN_IN))
		return FLOW_TIMEOUT_TCP_CLOSING_SEC * NS_PER_SEC;
	return FLOW_TIMEOUT_TCP_SEC * NS_PER_SEC;
}

static __always_inline int flow_expired(const struct flow_key *k, const struct flow_value *v, __u64 now)
{
	/* An entry written later than `now` (another CPU, just now) is live. */
	return now > v->last_seen && now - v->last_seen > flow_timeout(k, v);
}

static __always_inline void flow_touch(struct flow_value *v, __u64 now)
{
	if (now > v->last_seen + FLOW_REFRESH_SEC * NS_PER_SEC)
		v->last_seen = now;
}

/* ---- the per-CPU last-flow cache ---- */

/* An entry of flows was deleted or inserted (an insert into a full LRU map evicts another):
 * every CPU's cached flow is void. */
static __always_inline void flows_changed(void)
{
	__u32 zero = 0;
	__u64 *epoch = bpf_map_lookup_elem(&flow_epoch, &zero);
	if (epoch)
		__sync_fetch_and_add(epoch, 1);
}

/* Both keys 8-byte aligned (the cache's by the map value, the caller's declared so): five
 * 8-byte words and the 4 bytes of ports. */
#define FLOW_KEY_ALIGNED __attribute__((aligned(8)))

static __always_inline int flow_key_equal(const struct flow_key *a, const struct flow_key *b)
{
	const __u64 *x = (const void *)a, *y = (const void *)b;
	__u64 diff = 0;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(struct flow_key) / 8); i++)
		diff |= x[i] ^ y[i];
	diff |= *(const __u32 *)&a->sport ^ *(const __u32 *)&b->sport;
	return diff == 0;
}

/* This CPU's slot, and the epoch and jiffy read before the table is consulted. */
struct flow_seen {
	struct flow_cache_entry *slot;
	__u64 epoch;
	__u64 jiffies;
};

/* Whether `k` is the flow this CPU last found live in `slot`, in the current epoch (nothing
 * deleted or evicted since) and at most FLOW_CACHE_JIFFIES ago (so it was refreshed then). */
static __always_inline int flow_cache_hit(__u32 slot, const struct flow_key *k, struct flow_seen *seen)
{
	__u32 zero = 0;
	struct flow_cache_entry *c = bpf_map_lookup_elem(&flow_cache, &slot);
	__u64 *epoch = bpf_map_lookup_elem(&flow_epoch, &zero);
	seen->slot = NULL;
	if (!c || !epoch)
		return 0;
	seen->slot = c;
	/* Read before the table: a delete after this read changes the epoch after it. */
	seen->epoch = *(volatile __u64 *)epoch;
	seen->jiffies = bpf_jiffies64();
	return c->epoch == seen->epoch && seen->jiffies - c->jiffies < FLOW_CACHE_JIFFIES && flow_key_equal(&c->key, k);
}

/* `k` was just found live in the table (and refreshed): remember it with what was read before. */
static __always_inline void flow_cache_fill(const struct flow_seen *seen, const struct flow_key *k)
{
	struct flow_cache_entry *c = seen->slot;
	if (!c)
		return;
	__builtin_memcpy(&c->key, k, sizeof(*k));
	c->epoch = seen->epoch;
	c->jiffies = seen->jiffies;
}

/* A live entry for `k`, or NULL; an expired one is deleted on the way. */
static __always_inline struct flow_value *flow_live(const struct flow_key *k, __u64 now)
{
	struct flow_value *v = bpf_map_lookup_elem(&flows, k);
	if (v && flow_expired(k, v, now)) {
		bpf_map_delete_elem(&flows, k);
		flows_changed();
		return NULL;
	}
	return v;
}

/* An ICMP error (destination unreachable, packet too big, time exceeded) to the guest about a
 * packet the guest sent: the quoted packet's tuple is a live flow of this NIC. */
static __always_inline int related_error(struct __sk_buff *skb, const struct pkt *p, __u32 ifindex, __u64 now)
{
	if (!p->icmp)
		return 0;
	if (p->proto == IPPROTO_ICMP) {
		if (p->icmp_type != ICMP_DEST_UNREACH && p->icmp_type != ICMP_TIME_EXCEEDED)
			return 0;
	} else if (p->icmp_type != ICMPV6_DEST_UNREACH && p->icmp_type != ICMPV6_PKT_TOOBIG &&
		   p->icmp_type != ICMPV6_TIME_EXCEED) {
		return 0;
	}
	struct pkt quoted = {};
	/* The quoted packet lies in the linear data already when it is within PARSE_PULL_LIMIT
	 * (parse pulled that much if it had to); one past it is not looked at. */
	if (parse_ip(skb, p->l4_off + 8, p->family == FLOW_FAMILY_IPV4 ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6),
		     &quoted, 1) != PARSE_OK)
		return 0;
	/* Quoted as the guest sent it; a quoted packet of the other family is no answer to us. */
	if (quoted.family != p->family || quoted.opaque)
		return 0;
	struct flow_key k = {};
	if (!flow_key_of(&quoted, ifindex, &k, 0))
		return 0;
	return flow_live(&k, now) != NULL;
}

/* A packet to the guest that answers a flow the guest opened: its reverse is a live flow of
 * this NIC, or it is an ICMP error about one. Replies refresh the flow; a RST ends it; a FIN is
 * noted, and with the guest's own FIN the entry gets the short closing timeout. */
static __always_inline int is_reply(struct __sk_buff *skb, const struct pkt *p, __u32 ifindex)
{
	struct flow_key k FLOW_KEY_ALIGNED = {};
	if (!flow_key_of(p, ifindex, &k, 1))
		return related_error(skb, p, ifindex, bpf_ktime_get_coarse_ns());
	/* A TCP FIN or RST changes the entry, so it always goes to the table; any other reply of
	 * the flow this CPU let through last, moments ago, passes without it. */
	int plain = p->proto != IPPROTO_TCP || !(p->tcp_flags & (TCP_FIN | TCP_RST));
	struct flow_seen seen;
	if (plain && flow_cache_hit(FLOW_CACHE_EGRESS, &k, &seen))
		return 1;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct flow_value *v = flow_live(&k, now);
	if (!v)
		return 0;
	if (p->proto == IPPROTO_TCP) {
		if (p->tcp_flags & TCP_RST) {
			bpf_map_delete_elem(&flows, &k);
			flows_changed();
			return 1;
		}
		if ((p->tcp_flags & TCP_FIN) && !(v->flags & FLOW_F_FIN_IN))
			v->flags |= FLOW_F_FIN_IN;
	}
	flow_touch(v, now);
	if (plain)
		flow_cache_fill(&seen, &k);
	return 1;
}

/* The ingress side of parse_fast: the common packet from a guest read straight into its flow
 * key. FAST_NONE: a TCP segment without SYN, FIN or RST (nothing to record); FAST_KEY: `k` and
 * `tcp_flags` are set; FAST_SLOW: anything else, for the full parse. */
enum { FAST_SLOW, FAST_NONE, FAST_KEY };

static __always_inline int flow_key_fast(struct __sk_buff *skb, __u32 ifindex, struct flow_key *k, __u8 *tcp_flags)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = NULL;
	struct ipv6hdr *ip6 = NULL;
	__u8 *l4;
	__u8 proto;
	if ((void *)(eth + 1) > data_end)
		return FAST_SLOW;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return FAST_SLOW;
		if (*(__u8 *)ip != 0x45 || (ip->frag_off & bpf_htons(0x1fff)))
			return FAST_SLOW;
		proto = ip->protocol;
		l4 = (void *)(ip + 1);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return FAST_SLOW;
		proto = ip6->nexthdr;
		l4 = (void *)(ip6 + 1);
	} else {
		return FAST_SLOW;
	}
	if (proto == IPPROTO_TCP) {
		if ((void *)(l4 + 14) > data_end)
			return FAST_SLOW;
		__u8 flags = l4[13];
		if (!(flags & (TCP_SYN | TCP_FIN | TCP_RST)))
			return FAST_NONE;
		*tcp_flags = flags;
	} else if (proto == IPPROTO_UDP || proto == IPPROTO_SCTP) {
		if ((void *)(l4 + 4) > data_end)
			return FAST_SLOW;
	} else {
		return FAST_SLOW;
	}
	__builtin_memset(k, 0, sizeof(*k));
	if (ip) {
		k->family = FLOW_FAMILY_IPV4;
		k->saddr[0] = ip->saddr;
		k->daddr[0] = ip->daddr;
	} else if (ip6) {
		k->family = FLOW_FAMILY_IPV6;
		__builtin_memcpy(k->saddr, &ip6->saddr, 16);
		__builtin_memcpy(k->daddr, &ip6->daddr, 16);
	}
	k->ifindex = ifindex;
	k->proto = proto;
	k->sport = *(__be16 *)l4;
	k->dport = *(__be16 *)(l4 + 2);
	return FAST_KEY;
}

/* The flow key of a packet from the guest by the full parse, with its TCP flags; 0 when it
 * records nothing (not IP, opaque, a TCP segment without SYN, FIN or RST, no flow of ours). */
static __always_inline int flow_key_slow(struct __sk_buff *skb, __u32 ifindex, struct flow_key *k, __u8 *tcp_flags)
{
	struct pkt p = {};
	if (!parse(skb, &p) || p.family == 0 || p.opaque)
		return 0;
	if (p.proto == IPPROTO_TCP && !(p.tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)))
		return 0;
	*tcp_flags = p.tcp_flags;
	return flow_key_of(&p, ifindex, k, 0);
}

/* A packet from the guest: record the flow it opens, or refresh it (at most once a second, so
 * that a busy flow costs a lookup and no write; a datagram of the flow this CPU found live
 * moments ago costs neither: the per-CPU last-flow cache). A TCP flow is opened by the guest's
 * SYN only and refreshed by the replies it lets in: its other segments cost no lookup here, and
 * a connection whose entry is gone (flushed, expired, evicted) is not picked up again midway. A
 * RST from the guest ends the flow; a FIN is noted. */
static __always_inline void record_flow(struct __sk_buff *skb, __u32 ifindex)
{
	struct flow_key k FLOW_KEY_ALIGNED;
	__u8 tcp_flags = 0;
	int fast = flow_key_fast(skb, ifindex, &k, &tcp_flags);
	if (fast == FAST_NONE)
		return;
	if (fast == FAST_SLOW) {
		__builtin_memset(&k, 0, sizeof(k));
		if (!flow_key_slow(skb, ifindex, &k, &tcp_flags))
			return;
	}
	if (k.proto == IPPROTO_TCP) {
		__u64 now = bpf_ktime_get_coarse_ns();
		if (tcp_flags & TCP_RST) {
			bpf_map_delete_elem(&flows, &k);
			flows_changed();
		} else if ((tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
			/* A new connection, also on the tuple of an ended one. */
			struct flow_value fresh = { .last_seen = now };
			bpf_map_update_elem(&flows, &k, &fresh, BPF_ANY);
			flows_changed();
		} else if (tcp_flags & TCP_FIN) {
			struct flow_value *v = flow_live(&k, now);
			if (v) {
				if (!(v->flags & FLOW_F_FIN_OUT))
					v->flags |= FLOW_F_FIN_OUT;
				flow_touch(v, now);
			}
		}
		return;
	}
	/* The flow this CPU recorded or refreshed last, moments ago: nothing to do. */
	struct flow_seen seen;
	if (flow_cache_hit(FLOW_CACHE_INGRESS, &k, &seen))
		return;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct flow_value *v = bpf_map_lookup_elem(&flows, &k);
	if (v) {
		if (flow_expired(&k, v, now)) /* idle past its timeout: it starts afresh */
			v->last_seen = now;
		else
			flow_touch(v, now);
		flow_cache_fill(&seen, &k);
		return;
	}
	/* Not cached: the next datagram finds it in the table and caches it. */
	struct flow_value fresh = { .last_seen = now };
	bpf_map_update_elem(&flows, &k, &fresh, BPF_ANY);
	flows_changed();
	return;
}

/* ---- programs ---- */

SEC("tc")
int policy_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct nic_info *nic = bpf_map_lookup_elem(&nic_group, &ifindex);
	if (!nic)
		return TCX_PASS;

	set_mark_group(skb, nic->group);
	if (nic->flags & NIC_F_STATEFUL)
		record_flow(skb, ifindex);
	return TCX_PASS;
}

/* ---- counters and events ---- */

/* One packet more on a counter slot: an inlined per-CPU array access and two adds (no atomics:
 * the slot is this CPU's). */
static __always_inline void count(__u32 slot, __u32 len)
{
	struct counter *c = bpf_map_lookup_elem(&counters, &slot);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline struct monitor_config *monitor_settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&monitor_config, &zero);
}

/* The token bucket of the NIC (created on its first event): 1 when an event may go now. A
 * refused event is counted as lost. */
static __always_inline struct monitor_state *monitor_admit(__u32 ifindex, const struct monitor_config *cfg, int *admitted)
{
	*admitted = 0;
	struct monitor_state *st = bpf_map_lookup_elem(&monitor, &ifindex);
	if (!st) {
		struct monitor_state fresh = {};
		bpf_map_update_elem(&monitor, &ifindex, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&monitor, &ifindex);
		if (!st)
			return NULL; /* the map is full: nothing to count on */
	}
	__u64 now = bpf_ktime_get_ns();
	__u64 interval = NS_PER_SEC / cfg->rate;
	__u64 burst = cfg->burst ? cfg->burst : 1;
	__u64 tat = st->tat > now ? st->tat : now;
	if (tat - now > interval * (burst - 1)) {
		__sync_fetch_and_add(&st->lost, 1);
		return st;
	}
	st->tat = tat + interval;
	*admitted = 1;
	return st;
}

#define EV_WHO(src, dst) (((src) & 0xffff) | ((__u32)(dst) << 16))
#define EV_HOW(verdict, reason) ((verdict) | ((reason) << 8))

/* Reports a verdict on the events ring, if the NIC's bucket lets it. `who` packs the source
 * (low 16 bits) and destination marks, `how` the MON_VERDICT_* (low 8 bits) and MON_REASON_*.
 * A global function: verified once, not at every call site. */
__noinline int emit_event(struct __sk_buff *skb, const struct pkt *p, __u32 who, __u32 how, __u32 slot)
{
	if (!skb || !p)
		return 0;
	struct monitor_config *cfg = monitor_settings();
	if (!cfg || cfg->rate == 0)
		return 0;
	int admitted;
	struct monitor_state *st = monitor_admit(skb->ifindex, cfg, &admitted);
	if (!admitted)
		return 0;
	struct monitor_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		if (st)
			__sync_fetch_and_add(&st->lost, 1);
		return 0;
	}
	ev->time_ns = bpf_ktime_get_ns();
	ev->ifindex = skb->ifindex;
	ev->len = skb->len;
	ev->src = who & 0xffff;
	ev->dst = who >> 16;
	ev->family = p->family;
	ev->proto = p->family ? p->proto : 0;
	/* Ports of tcp/udp/sctp, the id of an ICMP echo; nothing else has ports. */
	if (p->ports || (p->icmp && (is_echo_request(p) || is_echo_reply(p)))) {
		ev->sport = p->sport;
		ev->dport = p->dport;
	} else {
		ev->sport = 0;
		ev->dport = 0;
	}
	ev->verdict = how & 0xff;
	ev->reason = (how >> 8) & 0xff;
	ev->slot = ev->reason == MON_REASON_RULE ? slot : 0;
	__builtin_memcpy(ev->saddr, p->saddr, 16);
	__builtin_memcpy(ev->daddr, p->daddr, 16);
	bpf_ringbuf_submit(ev, 0);
	if (st)
		__sync_fetch_and_add(&st->sent, 1);
	return 0;
}

/* An allowed packet when a monitor asked for new flows: a TCP SYN without ACK or an ICMP echo
 * request is reported (UDP and other protocols have no mark of a new flow and are not). Off
 * the common path: only called when the monitor_config flag is set. */
__noinline int report_new_flow(struct __sk_buff *skb, __u32 who, __u32 slot)
{
	if (!skb)
		return 0;
	struct pkt p = {};
	if (!parse(skb, &p) || !p.family || p.opaque)
		return 0;
	if (p.proto == IPPROTO_TCP ? (p.tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN : !is_echo_request(&p))
		return 0;
	return emit_event(skb, &p, who, EV_HOW(MON_VERDICT_ALLOW, MON_REASON_RULE), slot);
}

/* The egress decision past the verdict word: services, then what a denied packet may still
 * be; every outcome is counted, every drop (or audit pass) reported. Inlined (a call costs
 * more than it saves); the common path returns before it. */
#define WORD_ALLOW 1
#define WORD_SERVICE 2

static __always_inline int egress_slow(struct __sk_buff *skb, const struct nic_info *nic, __u32 src, __u32 word, __u32 slot)
{
	__u32 ifindex = skb->ifindex;
	__u32 dst = nic->group, flags = nic->flags;
	__u32 allowed = word & WORD_ALLOW, service = word & WORD_SERVICE;
	__u32 who = EV_WHO(src, dst);
	__u32 reason;
	struct pkt p = {};
	if (!parse(skb, &p)) {
		/* unreadable: fail closed */
		count(nic->deny_slot, skb->len);
		__builtin_memset(&p, 0, sizeof(p));
		if (flags & NIC_F_AUDIT) {
			emit_event(skb, &p, who, EV_HOW(MON_VERDICT_AUDIT, MON_REASON_UNREADABLE), 0);
			return TCX_PASS;
		}
		emit_event(skb, &p, who, EV_HOW(MON_VERDICT_DROP, MON_REASON_UNREADABLE), 0);
		return TCX_DROP;
	}

	if (service) {
		if (p.opaque) {
			allowed = 0; /* a port rule might apply that we cannot see */
		} else if (p.family) {
			struct service_key sk __attribute__((aligned(8))) = { .dst = dst, .src = src, .proto = p.proto };
			if (p.ports) {
				service_decide(&sk, &p, &allowed, &slot);
			} else {
				struct service_value *svc = bpf_map_lookup_elem(&services, &sk);
				if (svc)
					allowed = service_allows(svc, &p, &slot);
			}
		}
		if (allowed) {
			count(slot, skb->len);
			struct monitor_config *cfg = monitor_settings();
			if (cfg && (cfg->flags & MON_F_FLOWS))
				report_new_flow(skb, who, slot);
			return TCX_PASS;
		}
	}
	if ((flags & NIC_F_INFRA) && is_infra(&p)) {
		count(nic->infra_slot, skb->len);
		return TCX_PASS;
	}
	if ((flags & NIC_F_STATEFUL) && p.family && !p.opaque && is_reply(skb, &p, ifindex)) {
		count(nic->reply_slot, skb->len);
		return TCX_PASS;
	}
	count(slot, skb->len);
	reason = slot == nic->deny_slot ? MON_REASON_DEFAULT_DENY : MON_REASON_RULE;
	if (flags & NIC_F_AUDIT) {
		emit_event(skb, &p, who, EV_HOW(MON_VERDICT_AUDIT, reason), slot);
		return TCX_PASS;
	}
	emit_event(skb, &p, who, EV_HOW(MON_VERDICT_DROP, reason), slot);
	return TCX_DROP;
}

SEC("tc")
int policy_egress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct nic_info *nic = bpf_map_lookup_elem(&nic_group, &ifindex);
	if (!nic)
		return TCX_DROP; /* fail closed: a NIC we do not know gets nothing */

	__u32 src = skb->mark & MARK_GROUP_MASK;
	struct verdict_key key = {
		.dst = nic->group,
		.src_hi = src >> VERDICT_WORD_SHIFT,
	};
	struct verdict_value *verdict = bpf_map_lookup_elem(&verdicts, &key);
	__u32 allowed = 0, service = 0, slot = nic->deny_slot;
	if (verdict) { /* no word: none of its 64 sources is allowed or denied by a rule */
		__u32 bit = src & VERDICT_WORD_MASK;
		allowed = (verdict->allow >> bit) & 1;
		service = (verdict->service >> bit) & 1;
		slot = verdict->slots[bit];
		if (allowed && !service) {
			count(slot, skb->len);
			/* New flows are looked for only while a monitor asks (an inlined array read). */
			struct monitor_config *cfg = monitor_settings();
			if (cfg && (cfg->flags & MON_F_FLOWS))
				report_new_flow(skb, EV_WHO(src, nic->group), slot);
			return TCX_PASS;
		}
	}
	return egress_slow(skb, nic, src, allowed | (service ? WORD_SERVICE : 0), slot);
}

char LICENSE[] SEC("license") = "GPL";

#ifdef MICROSEG_TEST_VARIANT
/* A second build of this object with another fingerprint, for the upgrade tests (make builds
 * it as policy.variant.bpf.o; never embedded). The extra program changes the object's bytes;
 * the policy programs and their verdicts stay the same. */
SEC("tc")
int policy_variant_marker(struct __sk_buff *skb)
{
	return skb->len > 0 ? TCX_PASS : TCX_PASS;
}
#endif
