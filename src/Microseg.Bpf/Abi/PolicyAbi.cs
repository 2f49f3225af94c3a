// The C# side of bpf/include/abi.h and the names policy.bpf.o exposes. Layout-tested against the
// header; a change here is a change there and bumps SchemaVersion.
using System.Runtime.InteropServices;

namespace Microseg.Bpf.Abi;

public static class PolicyAbi
{
    /// <summary>MICROSEG_SCHEMA_VERSION: the layout of the pinned maps.</summary>
    public const int SchemaVersion = 2;

    public const int NicGroupMaxEntries = 65536;

    /// <summary>MARK_GROUP_MASK: the group is the low 16 bits of skb->mark.</summary>
    public const uint MarkGroupMask = 0xffff;

    /// <summary>VERDICT_WORD_SHIFT: a source mark's verdict word is mark >> 6, its bit mark &amp; 63.</summary>
    public const int VerdictWordShift = 6;
    public const int VerdictWordMask = 63;
    /// <summary>VERDICT_WORDS_PER_DST: 65,536 source marks / 64, the most entries one destination group costs.</summary>
    public const int VerdictWordsPerDst = 1024;
    /// <summary>VERDICTS_MAX_DSTS: local destination groups the map holds in the worst case.</summary>
    public const int VerdictsMaxDsts = 1024;
    public const int VerdictsMaxEntries = VerdictsMaxDsts * VerdictWordsPerDst;

    public const string ObjectFile = "policy.bpf.o";
    public const string NicGroupMap = "nic_group";
    public const string VerdictsMap = "verdicts";
    public const string IngressProgram = "policy_ingress";
    public const string EgressProgram = "policy_egress";
}

/// <summary>struct verdict_key: a destination group and one word (64 source marks) of its
/// verdicts; SrcHi = source mark >> <see cref="PolicyAbi.VerdictWordShift"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct VerdictKey(ushort Dst, ushort SrcHi)
{
    public readonly ushort Dst = Dst;
    public readonly ushort SrcHi = SrcHi;
}

/// <summary>struct verdict_value: bit (source mark &amp; 63) of Allow set = allowed. Service is
/// reserved for service rules (a set bit will mean "consult the service map"); write 0.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct VerdictValue(ulong Allow, ulong Service = 0)
{
    public readonly ulong Allow = Allow;
    public readonly ulong Service = Service;
}

/// <summary>struct nic_info, the value of nic_group (keyed by the uint ifindex).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct NicInfo(ushort Group, ushort Flags = 0)
{
    public readonly ushort Group = Group;
    public readonly ushort Flags = Flags;
}
