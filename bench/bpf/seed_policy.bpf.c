// SPDX-License-Identifier: GPL-2.0
/* Baseline for the data-plane benchmark (never shipped): the policy programs as they were
 * before services and flows (schema 2), copied from bpf/policy.bpf.c, so that the cost of the
 * new egress and ingress is measured against today's one-verdict-lookup shape in the same run.
 * Its own copies of the two maps; the structs are the unchanged ones of abi.h. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "abi.h"
#include "mark.h"

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

SEC("tc")
int seed_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct nic_info *nic = bpf_map_lookup_elem(&nic_group, &ifindex);
	if (!nic)
		return TCX_PASS;

	set_mark_group(skb, nic->group);
	return TCX_PASS;
}

SEC("tc")
int seed_egress(struct __sk_buff *skb)
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
	if (!verdict) /* no word: none of its 64 sources is allowed */
		return TCX_DROP;
	if (!((verdict->allow >> (src & VERDICT_WORD_MASK)) & 1))
		return TCX_DROP;
	return TCX_PASS;
}

char LICENSE[] SEC("license") = "GPL";
