// The C# side of bpf/include/abi.h and the names policy.bpf.o exposes. Layout-tested against the
// header; a change here is a change there and bumps SchemaVersion.
using System.Runtime.InteropServices;

namespace Microseg.Bpf.Abi;

public static class PolicyAbi
{
    /// <summary>MICROSEG_SCHEMA_VERSION: the layout of the pinned maps.</summary>
    public const int SchemaVersion = 1;

    public const int NicGroupMaxEntries = 65536;
    public const int VerdictsMaxEntries = 1048576;

    /// <summary>MARK_GROUP_MASK: the group is the low 16 bits of skb->mark.</summary>
    public const uint MarkGroupMask = 0xffff;

    public const string ObjectFile = "policy.bpf.o";
    public const string NicGroupMap = "nic_group";
    public const string VerdictsMap = "verdicts";
    public const string IngressProgram = "policy_ingress";
    public const string EgressProgram = "policy_egress";
}

/// <summary>VERDICT_DENY / VERDICT_ALLOW.</summary>
public enum VerdictAction : byte
{
    Deny = 0,
    Allow = 1,
}

/// <summary>struct verdict_key: source and destination group; Src 0 = untagged.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct VerdictKey(ushort Src, ushort Dst)
{
    public readonly ushort Src = Src;
    public readonly ushort Dst = Dst;
}

/// <summary>struct verdict_value.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct VerdictValue(VerdictAction Action)
{
    public readonly VerdictAction Action = Action;
    private readonly byte pad0;
    private readonly byte pad1;
    private readonly byte pad2;
}

/// <summary>struct nic_info, the value of nic_group (keyed by the uint ifindex).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct NicInfo(ushort Group, ushort Flags = 0)
{
    public readonly ushort Group = Group;
    public readonly ushort Flags = Flags;
}
