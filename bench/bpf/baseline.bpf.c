// SPDX-License-Identifier: GPL-2.0
/* Baselines for the per-packet benchmarks, measured in the same run as our programs: a program
 * that does nothing, and one that does a single hash lookup (the floor of any map-driven policy). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} one SEC(".maps");

SEC("tc")
int baseline_empty(struct __sk_buff *skb)
{
	return 0; /* TCX_PASS */
}

SEC("tc")
int baseline_one_lookup(struct __sk_buff *skb)
{
	__u32 key = skb->ifindex;
	return bpf_map_lookup_elem(&one, &key) ? 0 : 2; /* TCX_PASS : TCX_DROP */
}

SEC("xdp")
int baseline_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
