/* The contract between the BPF programs and the C# agent: map keys and values, limits and the
 * schema version. Mirrored in src/Microseg.Bpf/Abi and checked by the layout tests; any change
 * to a struct, a map's size or flags, or a map's meaning bumps MICROSEG_SCHEMA_VERSION.
 * UAPI types only, so that both clang -target bpf and the host compiler accept it. */
#ifndef MICROSEG_ABI_H
#define MICROSEG_ABI_H

#include <linux/types.h>

#define MICROSEG_SCHEMA_VERSION 1

#define NIC_GROUP_MAX_ENTRIES 65536
#define VERDICTS_MAX_ENTRIES 1048576

/* The group travels in the low 16 bits of skb->mark; the upper 16 bits belong to others. */
#define MARK_GROUP_MASK 0xffff

#define VERDICT_DENY 0
#define VERDICT_ALLOW 1

/* verdicts key: group marks, src 0 = untagged (the packet did not come from a guest NIC). */
struct verdict_key {
	__u16 src;
	__u16 dst;
};

struct verdict_value {
	__u8 action; /* VERDICT_DENY or VERDICT_ALLOW; anything else is treated as deny */
	__u8 pad[3];
};

/* nic_group value, keyed by the __u32 ifindex of the host-side guest NIC. */
struct nic_info {
	__u16 group;
	__u16 flags;
};

/* ---- carrier (SRv6 tag) ---- */

/* ---- forwarder (XDP) ---- */

#endif /* MICROSEG_ABI_H */
