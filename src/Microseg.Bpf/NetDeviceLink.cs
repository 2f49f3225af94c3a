// What tcx and XDP links share: a link on a network device, held by one fd, that can be pinned,
// switched to another program atomically (BPF_LINK_UPDATE), detached, and asked which program
// and ifindex it has (ifindex 0 once its netdev is gone).
namespace Microseg.Bpf;

public abstract class NetDeviceLink : IBpfLink
{
    protected NetDeviceLink(SafeFdHandle handle, int ifIndex)
    {
        Handle = handle;
        IfIndex = ifIndex;
    }

    public SafeFdHandle Handle { get; }

    /// <summary>The ifindex when created or opened; <see cref="Info"/> says whether it still holds.</summary>
    public int IfIndex { get; }

    public void Pin(string path) => ObjectInfo.Pin(Handle, path, ToString());

    public void Update(BpfProgram program)
    {
        ArgumentNullException.ThrowIfNull(program);
        using var link = Handle.Use();
        using var prog = program.Handle.Use();
        int result = Interop.Libbpf.bpf_link_update(link.Value, prog.Value, 0);
        if (result < 0)
        {
            int errno = -result;
            throw BpfException.FromErrno(errno, $"update {this} to {program}",
                errno == Errno.ENOLINK ? "the link is defunct: its interface is gone or it was detached; create a new link" : null);
        }
    }

    public void Detach()
    {
        using var link = Handle.Use();
        NativeResult.CheckLibbpf(Interop.Libbpf.bpf_link_detach(link.Value), $"detach {this}");
    }

    public BpfLinkInfo Info() => ReadInfo(Handle, ToString());

    /// <summary>What the link was when it was opened from its pin (read then, to check its
    /// type): one info call fewer for a caller that looks at it right away. Null for a link
    /// created by this process.</summary>
    public BpfLinkInfo? InfoAtOpen { get; protected init; }

    /// <summary>What the link is, for messages ("tcx egress link on ifindex 7").</summary>
    public abstract override string ToString();

    /// <summary>Closes this fd. A pinned link stays attached; an unpinned one detaches now unless
    /// another fd refers to it.</summary>
    public void Dispose() => Handle.Dispose();

    /// <summary>Opens the link pinned at <paramref name="path"/> and checks its type.</summary>
    protected static (SafeFdHandle Handle, BpfLinkInfo Info) OpenPinned(string path, BpfLinkType expected)
    {
        var handle = ObjectInfo.OpenPinned(path, "link");
        try
        {
            var info = ReadInfo(handle, $"pinned link {path}");
            if (info.Type != expected)
                throw new BpfException($"open pinned link {path}: it is a {info.Type} link, not a {expected} link");
            return (handle, info);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static BpfLinkInfo ReadInfo(SafeFdHandle handle, string what)
    {
        var info = ObjectInfo.Get<Interop.Libbpf.bpf_link_info>(handle, what);
        var type = (BpfLinkType)info.type;
        // The union's tcx member is { ifindex; attach_type }, its xdp member { ifindex }: same offset.
        return type switch
        {
            BpfLinkType.Tcx => new BpfLinkInfo(type, info.id, info.prog_id, (int)info.tcx_ifindex, info.tcx_attach_type),
            BpfLinkType.Xdp => new BpfLinkInfo(type, info.id, info.prog_id, (int)info.tcx_ifindex, 0),
            _ => new BpfLinkInfo(type, info.id, info.prog_id, 0, 0),
        };
    }
}
