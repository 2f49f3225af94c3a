// A tcx link (kernel ≥ 6.6): a program on an interface's ingress or egress, created with
// bpf_link_create (libbpf 1.1 has no tcx helpers; its low-level call is enough).
//
// Lifetime: Dispose closes this process's fd. A pinned link stays attached (the pin holds it);
// an unpinned link detaches when its last fd closes. A link that must outlive the process is
// pinned, explicitly. When the netdev goes away the kernel detaches the program but keeps a
// pinned link, whose Info() then reports ifindex 0 (IsDefunct).
namespace Microseg.Bpf;

/// <summary>The tcx hook; values are the kernel's attach types BPF_TCX_INGRESS and BPF_TCX_EGRESS.</summary>
public enum TcxDirection : uint
{
    Ingress = Interop.Libbpf.BPF_TCX_INGRESS,
    Egress = Interop.Libbpf.BPF_TCX_EGRESS,
}

public sealed partial class TcxLink : NetDeviceLink, IDeviceAttachment
{
    private TcxLink(SafeFdHandle handle, int ifIndex, TcxDirection direction) : base(handle, ifIndex)
    {
        Direction = direction;
    }

    public TcxDirection Direction { get; }

    /// <summary>Attaches <paramref name="program"/> to the interface's tcx hook, after any
    /// programs already there. The link is not pinned: pin it to keep it past this process.</summary>
    public static TcxLink Create(BpfProgram program, int ifIndex, TcxDirection direction)
    {
        ArgumentNullException.ThrowIfNull(program);
        using var prog = program.Handle.Use();
        int fd = Interop.Libbpf.bpf_link_create(prog.Value, ifIndex, (uint)direction, 0);
        if (fd < 0)
        {
            int errno = -fd;
            throw BpfException.FromErrno(errno,
                $"attach tcx {Describe(direction)} to {Interface(ifIndex)}", CreateHint(errno, ifIndex, program));
        }
        return new TcxLink(new SafeFdHandle(fd), ifIndex, direction);
    }

    /// <summary>Opens a pinned tcx link, defunct or not (check <see cref="Info"/>).</summary>
    public static TcxLink OpenPinned(string path)
    {
        var (handle, info) = OpenPinned(path, BpfLinkType.Tcx);
        return new TcxLink(handle, info.IfIndex, (TcxDirection)info.AttachType) { InfoAtOpen = info };
    }

    public override string ToString() => $"tcx {Describe(Direction)} link on ifindex {IfIndex}";

    private static string Describe(TcxDirection direction) => direction == TcxDirection.Ingress ? "ingress" : "egress";

    private static unsafe string Interface(int ifIndex)
    {
        byte* name = stackalloc byte[Interop.Libc.IF_NAMESIZE];
        return Interop.Libc.if_indextoname((uint)ifIndex, name) is null
            ? $"ifindex {ifIndex}"
            : $"{ObjectInfo.CString(new ReadOnlySpan<byte>(name, Interop.Libc.IF_NAMESIZE))} (ifindex {ifIndex})";
    }

    private static string? CreateHint(int errno, int ifIndex, BpfProgram program) => errno switch
    {
        Errno.EINVAL when !BpfFeatures.Tcx.IsSupported => BpfFeatures.Tcx.Reason,
        Errno.EINVAL => $"the kernel refused {program} for tcx (it must be a SEC(\"tc\") sched_cls program)",
        Errno.ENODEV => $"no interface has ifindex {ifIndex} in this network namespace",
        Errno.EEXIST => $"{program} is already attached there",
        Errno.EPERM or Errno.EACCES => "attaching needs root (CAP_NET_ADMIN and CAP_BPF)",
        _ => null,
    };
}
