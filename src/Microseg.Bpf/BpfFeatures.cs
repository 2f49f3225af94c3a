// Probes for kernel features, each run once per process against the real kernel, so that a
// failure can say what is missing ("tcx needs kernel ≥ 6.6; this is 6.1.0-18-amd64") instead of
// surfacing a bare EINVAL.
namespace Microseg.Bpf;

public static class BpfFeatures
{
    private static readonly Lazy<BpfFeature> tcx = new(ProbeTcx);

    /// <summary>uname's release of the running kernel (e.g. 6.18.44-fc-v669).</summary>
    public static string KernelRelease { get; } = ReadKernelRelease();

    /// <summary>tcx links (BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS), kernel ≥ 6.6.</summary>
    public static BpfFeature Tcx => tcx.Value;

    /// <summary>The attach mode that serves <paramref name="requested"/> on this kernel: auto is
    /// tcx when <see cref="Tcx"/> is supported, else tc. tc needs no probe: clsact and cls_bpf's
    /// direct-action mode are older (4.5) than anything else microseg needs.</summary>
    public static AttachModeChoice ChooseAttachMode(AttachMode requested) => ChooseAttachMode(requested, Tcx);

    internal static AttachModeChoice ChooseAttachMode(AttachMode requested, BpfFeature tcx) => requested switch
    {
        AttachMode.Auto when tcx.IsSupported =>
            new(requested, AttachMode.Tcx, true, $"auto: tcx, the kernel ({KernelRelease}) has tcx links"),
        AttachMode.Auto =>
            new(requested, AttachMode.Tc, true, $"auto: tc (clsact qdisc + cls_bpf filter), because {tcx.Reason}"),
        AttachMode.Tcx when tcx.IsSupported =>
            new(requested, AttachMode.Tcx, true, "tcx, as requested"),
        AttachMode.Tcx =>
            new(requested, AttachMode.Tcx, false, $"tcx was requested, but {tcx.Reason}; use attach mode auto or tc"),
        AttachMode.Tc =>
            new(requested, AttachMode.Tc, true, tcx.IsSupported
                ? "tc (clsact qdisc + cls_bpf filter), as requested (the kernel has tcx too)"
                : "tc (clsact qdisc + cls_bpf filter), as requested"),
        _ => throw new ArgumentOutOfRangeException(nameof(requested), requested, "auto, tcx or tc"),
    };

    // Attach a two-instruction sched_cls program to ifindex 0xffffffff: a kernel that knows tcx
    // looks for the device and says ENODEV; one that does not rejects the attach type (EINVAL).
    private static unsafe BpfFeature ProbeTcx()
    {
        const string name = "tcx";
        ulong* insns = stackalloc ulong[]
        {
            0x00000000_000000b7, // r0 = 0
            0x00000000_00000095, // exit
        };
        int prog = Interop.Libbpf.bpf_prog_load(Interop.Libbpf.BPF_PROG_TYPE_SCHED_CLS, "microseg_probe", "GPL", insns, 2, 0);
        if (prog < 0)
            return new BpfFeature(name, false,
                $"cannot probe tcx: loading a test program failed: {Errno.Name(-prog)} ({Errno.Describe(-prog)}); BPF needs root (CAP_BPF)");
        using var progHandle = new SafeFdHandle(prog);
        int link = Interop.Libbpf.bpf_link_create(prog, -1, Interop.Libbpf.BPF_TCX_INGRESS, 0);
        if (link >= 0)
        {
            Interop.Libc.close(link);
            return new BpfFeature(name, true, null);
        }
        return -link switch
        {
            Errno.ENODEV => new BpfFeature(name, true, null),
            Errno.EINVAL => new BpfFeature(name, false, $"tcx needs kernel ≥ 6.6; this is {KernelRelease}"),
            int errno => new BpfFeature(name, false,
                $"cannot probe tcx on kernel {KernelRelease}: bpf_link_create said {Errno.Name(errno)} ({Errno.Describe(errno)})"),
        };
    }

    private static string ReadKernelRelease()
    {
        // The same string as uname(2)'s release field, without mirroring struct utsname.
        try { return File.ReadAllText("/proc/sys/kernel/osrelease").Trim(); }
        catch (IOException) { return Environment.OSVersion.Version.ToString(); }
        catch (UnauthorizedAccessException) { return Environment.OSVersion.Version.ToString(); }
    }
}

/// <param name="Reason">Why the feature is missing (one line, with the kernel release); null when supported.</param>
public sealed record BpfFeature(string Name, bool IsSupported, string? Reason)
{
    public void ThrowIfUnsupported()
    {
        if (!IsSupported) throw new BpfException(Reason ?? $"{Name} is not supported");
    }
}
