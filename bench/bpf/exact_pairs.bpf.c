// SPDX-License-Identifier: GPL-2.0
/* Baseline for the verdict-mask benchmark (never shipped): the egress program and verdict map of
 * schema 1, one hash entry per allowed exact (src, dst) pair, copied from bpf/policy.bpf.c as it
 * was before the masks, so that both layouts are measured in the same run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "abi.h"
#include "mark.h"

#define EXACT_VERDICTS_MAX_ENTRIES 1048576
#define EXACT_VERDICT_ALLOW 1

struct exact_verdict_key {
	__u16 src;
	__u16 dst;
};

struct exact_verdict_value {
	__u8 action;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NIC_GROUP_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct nic_info);
} nic_group SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXACT_VERDICTS_MAX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct exact_verdict_key);
	__type(value, struct exact_verdict_value);
} verdicts SEC(".maps");

SEC("tc")
int exact_pairs_egress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct nic_info *nic = bpf_map_lookup_elem(&nic_group, &ifindex);
	if (!nic)
		return TCX_DROP; /* fail closed: a NIC we do not know gets nothing */

	struct exact_verdict_key key = {
		.src = skb->mark & MARK_GROUP_MASK,
		.dst = nic->group,
	};
	struct exact_verdict_value *verdict = bpf_map_lookup_elem(&verdicts, &key);
	if (!verdict || verdict->action != EXACT_VERDICT_ALLOW)
		return TCX_DROP;
	return TCX_PASS;
}

char LICENSE[] SEC("license") = "GPL";
