// SPDX-License-Identifier: GPL-2.0
/* Guest NIC policy (SPEC §5.1), attached with tcx links to the host side of each guest NIC:
 * ingress (packets from the guest) stamps the NIC's group into the low 16 bits of skb->mark,
 * egress (packets to the guest) looks up the source's bit in the NIC group's verdict masks and
 * drops unless it is set. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
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

SEC("tc")
int policy_ingress(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct nic_info *nic = bpf_map_lookup_elem(&nic_group, &ifindex);
	if (!nic)
		return TCX_PASS;

	set_mark_group(skb, nic->group);
	return TCX_PASS;
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
	if (!verdict) /* no word: none of its 64 sources is allowed */
		return TCX_DROP;
	if (!((verdict->allow >> (src & VERDICT_WORD_MASK)) & 1))
		return TCX_DROP;
	return TCX_PASS;
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
