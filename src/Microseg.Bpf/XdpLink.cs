// An XDP link (BPF_LINK_CREATE with attach type BPF_XDP, kernel ≥ 5.9): a program on an
// interface's receive path, in generic (skb) or native (driver) mode. libbpf 1.1's low-level
// bpf_link_create takes the mode in opts.flags.
//
// Lifetime as for tcx links: Dispose closes this process's fd; a pinned link stays attached;
// when the netdev goes away the kernel detaches the program but keeps a pinned link, whose
// Info() then reports ifindex 0 (IsDefunct). The kernel does not report a link's mode: callers
// that need it keep it themselves (the forwarder puts it in the pin's name).
namespace Microseg.Bpf;

/// <summary>Where an XDP program runs; values are the kernel's XDP_FLAGS_*_MODE.</summary>
public enum XdpMode : uint
{
    /// <summary>Generic XDP, after the driver built an skb: works on every interface.</summary>
    Skb = Interop.Libbpf.XDP_FLAGS_SKB_MODE,

    /// <summary>In the driver, before an skb exists: needs driver support (veth, virtio-net, most NICs).</summary>
    Native = Interop.Libbpf.XDP_FLAGS_DRV_MODE,
}

public sealed class XdpLink : NetDeviceLink
{
    private XdpLink(SafeFdHandle handle, int ifIndex, XdpMode? mode) : base(handle, ifIndex)
    {
        Mode = mode;
    }

    /// <summary>The mode it was created in; null for a link opened from a pin (the kernel does not say).</summary>
    public XdpMode? Mode { get; }

    /// <summary>Attaches <paramref name="program"/> (a SEC("xdp") program) to the interface in
    /// the given mode, in the caller's network namespace. Not pinned: pin it to keep it past this
    /// process.</summary>
    public static unsafe XdpLink Create(BpfProgram program, int ifIndex, XdpMode mode)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "skb or native");
        var opts = new Interop.Libbpf.bpf_link_create_opts
        {
            sz = (nuint)sizeof(Interop.Libbpf.bpf_link_create_opts),
            flags = (uint)mode,
        };
        using var prog = program.Handle.Use();
        int fd = Interop.Libbpf.bpf_link_create(prog.Value, ifIndex, Interop.Libbpf.BPF_XDP, (nint)(&opts));
        if (fd < 0)
        {
            int errno = -fd;
            throw BpfException.FromErrno(errno,
                $"attach XDP ({Describe(mode)} mode) to {NetDevice.Describe(ifIndex)}", CreateHint(errno, ifIndex, mode, program));
        }
        return new XdpLink(new SafeFdHandle(fd), ifIndex, mode);
    }

    /// <summary>Opens a pinned XDP link, defunct or not (check <see cref="IsDefunct"/>).</summary>
    public static XdpLink OpenPinned(string path)
    {
        var (handle, info) = OpenPinned(path, BpfLinkType.Xdp);
        return new XdpLink(handle, info.IfIndex, null) { InfoAtOpen = info };
    }

    /// <summary>True when the link's netdev is gone or it was detached: it forwards nothing and
    /// its old ifindex may already belong to another interface. Reclaim it, never trust it.</summary>
    public bool IsDefunct => Info().IsDefunct;

    public override string ToString() => $"XDP link on ifindex {IfIndex}{(Mode is { } m ? $" ({Describe(m)} mode)" : "")}";

    public static string Describe(XdpMode mode) => mode == XdpMode.Skb ? "skb" : "native";

    private static string? CreateHint(int errno, int ifIndex, XdpMode mode, BpfProgram program) => errno switch
    {
        // The kernel says EINVAL, not ENODEV, for an ifindex it cannot find.
        Errno.EINVAL or Errno.ENODEV when !NetDevice.Exists(ifIndex) => $"no interface has ifindex {ifIndex} in this network namespace",
        Errno.EOPNOTSUPP when mode == XdpMode.Native => $"the driver of {NetDevice.Describe(ifIndex)} has no native XDP; use mode skb",
        Errno.EINVAL => $"the kernel refused {program} as an XDP link (it must be a SEC(\"xdp\") program; XDP links need kernel ≥ 5.9, this is {BpfFeatures.KernelRelease})",
        Errno.EBUSY or Errno.EEXIST => "another XDP program is attached there (in this or the other mode; native and skb cannot be used at once): see 'ip link show'",
        Errno.EPERM or Errno.EACCES => "attaching needs root (CAP_NET_ADMIN and CAP_BPF)",
        Errno.ERANGE => "the interface's MTU is too large for XDP in this mode",
        _ => null,
    };
}

/// <summary>Interface names for messages: "veth101i0 (ifindex 7)".</summary>
internal static class NetDevice
{
    public static unsafe bool Exists(int ifIndex)
    {
        byte* name = stackalloc byte[Interop.Libc.IF_NAMESIZE];
        return ifIndex > 0 && Interop.Libc.if_indextoname((uint)ifIndex, name) is not null;
    }

    public static unsafe string Describe(int ifIndex)
    {
        byte* name = stackalloc byte[Interop.Libc.IF_NAMESIZE];
        return Interop.Libc.if_indextoname((uint)ifIndex, name) is null
            ? $"ifindex {ifIndex}"
            : $"{ObjectInfo.CString(new ReadOnlySpan<byte>(name, Interop.Libc.IF_NAMESIZE))} (ifindex {ifIndex})";
    }
}
