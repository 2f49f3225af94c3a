// The classic tc attach mode, for kernels without tcx (Debian 12's 6.1, Proxmox VE 7, RHEL 9):
// a cls_bpf filter in direct-action mode on the device's clsact qdisc, through libbpf 1.1's
// bpf_tc_* API (libbpf speaks rtnetlink for us).
//
// Identity. A filter is not an fd and cannot be pinned: it belongs to the device. microseg owns
// exactly one filter per hook, the one at (ifindex, direction, FilterHandle, FilterPriority), in
// chain 0, protocol all, kind bpf. Whatever sits there is ours; every other filter on the device
// is someone else's and is never touched: we create the qdisc only when it is missing, attach
// and replace only at our handle and priority, and detach only our filter. The clsact qdisc is
// never removed, not even when ours was the last filter on it: libbpf cannot list filters, and
// its bpf_tc_hook_destroy flushes the whole hook or deletes the qdisc with every foreign filter.
// An empty clsact qdisc passes everything; `tc qdisc del dev X clsact` removes it by hand.
//
// Across one-shot runs the kernel is the record, no pin or run-state file is needed:
//  - Find(ifindex, direction) says whether our filter is there; AttachedProgramId() compared
//    with the current program's id says whether it is current (the tcx equivalent is opening the
//    pin and reading its link info).
//  - A deleted netdev takes its qdisc and filters with it: there is nothing to reclaim (unlike a
//    defunct pinned tcx link), and Find on the old ifindex says null.
//  - A recycled ifindex: a device that gets an old ifindex starts with no qdisc and no filter, so
//    our filter on it can only be one we attached to that very device. Still, an ifindex means
//    nothing on its own: the agent decides what a device must have from the device now holding
//    the index (its name in the current dump), never from an ifindex it remembers. A device that
//    is not an assigned guest NIC but carries our filter gets it detached; entries the agent keeps
//    by ifindex (nic_group) are rewritten or deleted for the device now there. A TcAttachment
//    is for one pass over one view of the devices, not to be held across link events: Update
//    never creates a filter, so a stale object cannot attach a program to the device that
//    inherited the index, but Detach acts on whichever device holds the index now.
//  - Our priority is 1, the first to run: a foreign filter cannot pass a packet before the policy
//    program has judged it, which is also how tcx behaves (tcx programs run before any clsact
//    filter). Like tcx, the programs' TC_ACT_OK (TCX_PASS) ends classification, so foreign
//    filters at later priorities see no packet ours allowed. A foreign filter that is not cls_bpf
//    holding priority 1 makes our attach fail (the kernel keeps one filter kind per priority).
//  - Switching modes (a kernel upgrade brings tcx): detach the tc filters once the tcx links are
//    in place; until then the tcx link decides and the filter is not reached (a tcx verdict ends
//    processing before the clsact qdisc).
namespace Microseg.Bpf;

public sealed class TcAttachment : IDeviceAttachment
{
    /// <summary>The handle of microseg's filter on each hook: ASCII "MS". cls_bpf numbers filters
    /// without a handle from 1 upwards per priority, so no tool lands here by default.</summary>
    public const uint FilterHandle = 0x4d53;

    /// <summary>The priority (tc's "pref") of microseg's filter: 1, the first to run.</summary>
    public const ushort FilterPriority = 1;

    private TcAttachment(int ifIndex, HookDirection direction)
    {
        IfIndex = ifIndex;
        Direction = direction;
    }

    public AttachMode Mode => AttachMode.Tc;

    public int IfIndex { get; }

    public HookDirection Direction { get; }

    /// <summary>Attaches <paramref name="program"/> (a SEC("tc") sched_cls program) as our filter
    /// on the hook, creating the device's clsact qdisc when it has none (an existing one, and every
    /// filter on it, is kept). Fails with EEXIST when our filter is already there: use
    /// <see cref="Find"/> and <see cref="Update"/>.</summary>
    public static unsafe TcAttachment Attach(BpfProgram program, int ifIndex, HookDirection direction)
    {
        ArgumentNullException.ThrowIfNull(program);
        CheckDirection(direction);
        string what = $"attach tc {DeviceAttachment.Word(direction)} filter to {NetDevice.Describe(ifIndex)}";
        var hook = Hook(ifIndex, direction);
        int created = Interop.Libbpf.bpf_tc_hook_create(&hook);
        if (created < 0 && created != -Errno.EEXIST)
            throw BpfException.FromErrno(-created, $"{what}: create its clsact qdisc", QdiscHint(-created, ifIndex));
        int result = AttachFilter(&hook, program, flags: 0, out _);
        if (result < 0)
            throw BpfException.FromErrno(-result, what, AttachHint(-result, ifIndex, direction, program));
        return new TcAttachment(ifIndex, direction);
    }

    /// <summary>Creates the device's clsact qdisc when it has none; an existing one is kept. On a
    /// device that is up, grafting the qdisc deactivates the device for a moment (qdisc_graft →
    /// dev_deactivate: a few milliseconds of what it sends are dropped), so the agent does it when
    /// it first attaches a NIC in tcx mode, before its traffic matters, and a later switch to tc
    /// mode only adds filters.</summary>
    public static unsafe void EnsureQdisc(int ifIndex)
    {
        var hook = Hook(ifIndex, HookDirection.Ingress);
        int created = Interop.Libbpf.bpf_tc_hook_create(&hook);
        if (created < 0 && created != -Errno.EEXIST)
            throw BpfException.FromErrno(-created, $"create the clsact qdisc of {NetDevice.Describe(ifIndex)}", QdiscHint(-created, ifIndex));
    }

    /// <summary>Our filter on the hook, or null when there is none: no such device, no clsact
    /// qdisc, no filter at our handle and priority (or one of another kind at our priority).</summary>
    public static TcAttachment? Find(int ifIndex, HookDirection direction)
    {
        CheckDirection(direction);
        int result = Query(ifIndex, direction, out _);
        if (result == 0) return new TcAttachment(ifIndex, direction);
        if (IsAbsent(-result)) return null;
        throw BpfException.FromErrno(-result, $"query tc {DeviceAttachment.Word(direction)} filter on {NetDevice.Describe(ifIndex)}", PermissionHint(-result));
    }

    /// <summary>Replaces the program of our filter in place (RTM_NEWTFILTER with NLM_F_REPLACE:
    /// cls_bpf swaps it under RCU, so every packet sees one program or the other). Fails with
    /// ENOENT when our filter is gone and ENODEV when the device is: it never creates a filter.</summary>
    public unsafe void Update(BpfProgram program)
    {
        ArgumentNullException.ThrowIfNull(program);
        string what = $"update {this} to {program}";
        // The replace would create a missing filter (libbpf always sets NLM_F_CREATE): look first,
        // so that an attachment whose device is gone cannot reappear on a recycled ifindex.
        int found = Query(IfIndex, Direction, out _);
        if (found < 0)
        {
            int errno = IsAbsent(-found) && -found != Errno.ENODEV ? Errno.ENOENT : -found;
            throw BpfException.FromErrno(errno, what, errno switch
            {
                Errno.ENOENT => "our filter is gone (detached, or its qdisc was deleted): attach anew",
                Errno.ENODEV => $"no interface has ifindex {IfIndex} any more: its filters went with it",
                _ => PermissionHint(errno),
            });
        }
        var hook = Hook(IfIndex, Direction);
        int result = AttachFilter(&hook, program, Interop.Libbpf.BPF_TC_F_REPLACE, out _);
        if (result < 0)
            throw BpfException.FromErrno(-result, what, AttachHint(-result, IfIndex, Direction, program));
    }

    /// <summary>The id of the program our filter runs now, 0 when there is no filter of ours.</summary>
    public uint AttachedProgramId()
    {
        int result = Query(IfIndex, Direction, out uint programId);
        if (result == 0) return programId;
        if (IsAbsent(-result)) return 0;
        throw BpfException.FromErrno(-result, $"query {this}", PermissionHint(-result));
    }

    /// <summary>Deletes our filter (RTM_DELTFILTER at our handle and priority) and nothing else:
    /// the qdisc and foreign filters stay. A filter, qdisc or device already gone is not an error.</summary>
    public unsafe void Detach()
    {
        var hook = Hook(IfIndex, Direction);
        var opts = Opts();
        int result = Interop.Libbpf.bpf_tc_detach(&hook, &opts);
        if (result < 0 && !IsAbsent(-result))
            throw BpfException.FromErrno(-result, $"detach {this}", PermissionHint(-result));
    }

    /// <summary>Nothing to release: the filter is the device's, not this object's (like a pinned
    /// link, it stays attached until <see cref="Detach"/> or until the device goes).</summary>
    public void Dispose() { }

    public override string ToString() =>
        $"tc {DeviceAttachment.Word(Direction)} filter on {NetDevice.Describe(IfIndex)}";

    private static unsafe int AttachFilter(Interop.Libbpf.bpf_tc_hook* hook, BpfProgram program, uint flags, out uint programId)
    {
        using var prog = program.Handle.Use();
        var opts = Opts();
        opts.prog_fd = prog.Value;
        opts.flags = flags;
        int result = Interop.Libbpf.bpf_tc_attach(hook, &opts);
        programId = opts.prog_id;
        return result;
    }

    private static unsafe int Query(int ifIndex, HookDirection direction, out uint programId)
    {
        var hook = Hook(ifIndex, direction);
        var opts = Opts();
        int result = Interop.Libbpf.bpf_tc_query(&hook, &opts);
        programId = result == 0 ? opts.prog_id : 0;
        return result;
    }

    // What the kernel says when our filter is not there: ENOENT (a qdisc and filter chain, but
    // nothing at our handle and priority), EINVAL (no clsact qdisc, no filter chain yet, or a
    // filter of another kind at our priority), ENODEV (no such device).
    private static bool IsAbsent(int errno) => errno is Errno.ENOENT or Errno.EINVAL or Errno.ENODEV;

    private static unsafe Interop.Libbpf.bpf_tc_hook Hook(int ifIndex, HookDirection direction) => new()
    {
        sz = (nuint)sizeof(Interop.Libbpf.bpf_tc_hook),
        ifindex = ifIndex,
        attach_point = direction == HookDirection.Ingress ? Interop.Libbpf.BPF_TC_INGRESS : Interop.Libbpf.BPF_TC_EGRESS,
    };

    private static unsafe Interop.Libbpf.bpf_tc_opts Opts() => new()
    {
        sz = (nuint)sizeof(Interop.Libbpf.bpf_tc_opts),
        handle = FilterHandle,
        priority = FilterPriority,
    };

    private static void CheckDirection(HookDirection direction)
    {
        if (!Enum.IsDefined(direction)) throw new ArgumentOutOfRangeException(nameof(direction), direction, "ingress or egress");
    }

    private static string? QdiscHint(int errno, int ifIndex) => errno switch
    {
        Errno.ENODEV or Errno.EINVAL when !NetDevice.Exists(ifIndex) => $"no interface has ifindex {ifIndex} in this network namespace",
        Errno.ENOENT or Errno.EOPNOTSUPP => $"the kernel ({BpfFeatures.KernelRelease}) has no clsact qdisc (CONFIG_NET_SCH_INGRESS)",
        _ => PermissionHint(errno),
    };

    private static string? AttachHint(int errno, int ifIndex, HookDirection direction, BpfProgram program) => errno switch
    {
        Errno.ENODEV or Errno.EINVAL when !NetDevice.Exists(ifIndex) => $"no interface has ifindex {ifIndex} in this network namespace",
        Errno.EEXIST => $"microseg's filter (handle 0x{FilterHandle:x}, priority {FilterPriority}) is already there: find it and update it",
        Errno.EINVAL => $"a filter of another kind holds priority {FilterPriority}, the device has a classic ingress qdisc instead of clsact, " +
                        $"or {program} is not a SEC(\"tc\") sched_cls program: see 'tc filter show dev {DeviceName(ifIndex)} {DeviceAttachment.Word(direction)}'",
        Errno.ENOENT or Errno.EOPNOTSUPP => $"the kernel ({BpfFeatures.KernelRelease}) has no cls_bpf filter (CONFIG_NET_CLS_BPF)",
        _ => PermissionHint(errno),
    };

    private static unsafe string DeviceName(int ifIndex)
    {
        byte* name = stackalloc byte[Interop.Libc.IF_NAMESIZE];
        return Interop.Libc.if_indextoname((uint)ifIndex, name) is null
            ? $"<ifindex {ifIndex}>"
            : ObjectInfo.CString(new ReadOnlySpan<byte>(name, Interop.Libc.IF_NAMESIZE));
    }

    private static string? PermissionHint(int errno) =>
        errno is Errno.EPERM or Errno.EACCES ? "tc needs root (CAP_NET_ADMIN, and CAP_BPF to attach)" : null;
}
