/* What the tc programs share: the tcx return codes, and writing a group into skb->mark.
 * BPF side only (abi.h is the header shared with C#). Include after bpf/bpf_helpers.h. */
#ifndef MICROSEG_MARK_H
#define MICROSEG_MARK_H

#include "abi.h"

/* tcx return codes (include/uapi/linux/bpf.h since 6.6; Debian 12's UAPI predates them). */
#define TCX_NEXT -1
#define TCX_PASS 0
#define TCX_DROP 2

/* The group goes into the low 16 bits of skb->mark; the upper 16 bits belong to others
 * (firewall marks, routing) and are kept. */
static __always_inline void set_mark_group(struct __sk_buff *skb, __u16 group)
{
	__u32 mark = (skb->mark & ~(__u32)MARK_GROUP_MASK) | group;
	/* Without the barrier clang narrows this read-modify-write into a 16-bit store to the
	 * low half of skb->mark, which the verifier rejects (only 32-bit stores are allowed). */
	barrier_var(mark);
	skb->mark = mark;
}

#endif /* MICROSEG_MARK_H */
