// What every BPF link offers: a link holds a program attached to a hook for as long as an fd
// or a pin refers to it.
namespace Microseg.Bpf;

public interface IBpfLink : IDisposable
{
    SafeFdHandle Handle { get; }

    /// <summary>Pins the link so that it (and its attachment) outlives this process.</summary>
    void Pin(string path);

    /// <summary>Swaps the attached program atomically (BPF_LINK_UPDATE): no packet sees neither.</summary>
    void Update(BpfProgram program);

    /// <summary>Detaches the program now (BPF_LINK_DETACH), even while the link is pinned; the
    /// link object remains (defunct) until its last fd and pin are gone.</summary>
    void Detach();

    BpfLinkInfo Info();
}

/// <summary>enum bpf_link_type.</summary>
public enum BpfLinkType : uint
{
    Unspec = 0,
    RawTracepoint = 1,
    Tracing = 2,
    Cgroup = 3,
    Iter = 4,
    Netns = 5,
    Xdp = 6,
    PerfEvent = 7,
    KprobeMulti = 8,
    StructOps = 9,
    Netfilter = 10,
    Tcx = 11,
    UprobeMulti = 12,
    Netkit = 13,
    Sockmap = 14,
}

/// <param name="IfIndex">For tcx and XDP links the interface the link is attached to, and 0 once
/// that netdev is gone or the link was detached: the kernel keeps the pinned link but not the
/// device. 0 for other link types.</param>
/// <param name="AttachType">For tcx links enum bpf_attach_type (46 ingress, 47 egress); 0 for other types.</param>
public sealed record BpfLinkInfo(BpfLinkType Type, uint Id, uint ProgramId, int IfIndex, uint AttachType)
{
    /// <summary>Ingress or egress for a tcx link, null otherwise.</summary>
    public TcxDirection? TcxDirection => Type == BpfLinkType.Tcx && Enum.IsDefined((TcxDirection)AttachType)
        ? (TcxDirection)AttachType
        : null;

    /// <summary>A tcx or XDP link whose netdev is gone (or that was detached): it runs nothing and
    /// its old ifindex may already belong to another interface. Reclaim it, never trust it.</summary>
    public bool IsDefunct => Type is BpfLinkType.Tcx or BpfLinkType.Xdp && IfIndex == 0;
}
