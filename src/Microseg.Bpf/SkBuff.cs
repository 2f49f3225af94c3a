// struct __sk_buff, the context of tc programs, as BPF_PROG_TEST_RUN takes it in and gives it
// back. Only the scalar fields are mirrored (cb[] and the pointer fields stay zero).
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

/// <summary>
/// A test run accepts only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len,
/// gso_segs, gso_size and hwtstamp on input (anything else non-zero is EINVAL); ifindex must
/// name an interface of the caller's network namespace (0 means lo, and 1, lo, always exists).
/// On output the kernel fills mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len
/// (the frame length when 0 went in) and gso_*; len, protocol and the rest come back 0.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
public struct SkBuff
{
    [FieldOffset(0)] public uint Len;
    [FieldOffset(4)] public uint PktType;
    [FieldOffset(8)] public uint Mark;
    [FieldOffset(12)] public uint QueueMapping;
    [FieldOffset(16)] public uint Protocol;
    [FieldOffset(20)] public uint VlanPresent;
    [FieldOffset(24)] public uint VlanTci;
    [FieldOffset(28)] public uint VlanProto;
    [FieldOffset(32)] public uint Priority;
    [FieldOffset(36)] public uint IngressIfIndex;
    [FieldOffset(40)] public uint IfIndex;
    [FieldOffset(44)] public uint TcIndex;
    // 48: cb[5]
    [FieldOffset(68)] public uint Hash;
    [FieldOffset(72)] public uint TcClassId;
    [FieldOffset(76)] public uint Data;
    [FieldOffset(80)] public uint DataEnd;
    [FieldOffset(84)] public uint NapiId;
    [FieldOffset(88)] public uint Family;
    [FieldOffset(92)] public uint RemoteIp4;
    [FieldOffset(96)] public uint LocalIp4;
    // 100: remote_ip6[4], 116: local_ip6[4]
    [FieldOffset(132)] public uint RemotePort;
    [FieldOffset(136)] public uint LocalPort;
    [FieldOffset(140)] public uint DataMeta;
    // 144: flow_keys
    [FieldOffset(152)] public ulong Tstamp;
    [FieldOffset(160)] public uint WireLen;
    [FieldOffset(164)] public uint GsoSegs;
    // 168: sk
    [FieldOffset(176)] public uint GsoSize;
    [FieldOffset(180)] public byte TstampType;
    [FieldOffset(184)] public ulong Hwtstamp;
}
