// Which attach mode serves a request, for a kernel with and one without tcx (the feature is our
// own record, so both kernels can be described here; Kernel/FeatureTests asks the real one).
namespace Microseg.Bpf.Tests;

public sealed class AttachModeTests
{
    private static readonly BpfFeature WithTcx = new("tcx", true, null);
    private static readonly BpfFeature WithoutTcx = new("tcx", false, "tcx needs kernel ≥ 6.6; this is 6.1.0-18-amd64");

    [Fact]
    public void Auto_is_tcx_where_the_kernel_has_it()
    {
        var choice = BpfFeatures.ChooseAttachMode(AttachMode.Auto, WithTcx);

        Assert.Equal((AttachMode.Auto, AttachMode.Tcx, true), (choice.Requested, choice.Effective, choice.IsSupported));
        Assert.Equal($"auto: tcx, the kernel ({BpfFeatures.KernelRelease}) has tcx links", choice.Reason);
    }

    [Fact]
    public void Auto_is_tc_without_tcx_and_says_why()
    {
        var choice = BpfFeatures.ChooseAttachMode(AttachMode.Auto, WithoutTcx);

        Assert.Equal((AttachMode.Tc, true), (choice.Effective, choice.IsSupported));
        Assert.Equal("auto: tc (clsact qdisc + cls_bpf filter), because tcx needs kernel ≥ 6.6; this is 6.1.0-18-amd64", choice.Reason);
        choice.ThrowIfUnsupported();
    }

    [Fact]
    public void Forced_tc_is_tc_on_either_kernel()
    {
        Assert.Equal("tc (clsact qdisc + cls_bpf filter), as requested (the kernel has tcx too)",
            BpfFeatures.ChooseAttachMode(AttachMode.Tc, WithTcx).Reason);
        Assert.Equal("tc (clsact qdisc + cls_bpf filter), as requested",
            BpfFeatures.ChooseAttachMode(AttachMode.Tc, WithoutTcx).Reason);
        Assert.All([BpfFeatures.ChooseAttachMode(AttachMode.Tc, WithTcx), BpfFeatures.ChooseAttachMode(AttachMode.Tc, WithoutTcx)],
            c => Assert.Equal((AttachMode.Tc, true), (c.Effective, c.IsSupported)));
    }

    [Fact]
    public void Forced_tcx_without_tcx_is_unsupported_with_the_probe_reason()
    {
        var choice = BpfFeatures.ChooseAttachMode(AttachMode.Tcx, WithoutTcx);

        Assert.Equal((AttachMode.Tcx, false), (choice.Effective, choice.IsSupported));
        var e = Assert.Throws<BpfException>(choice.ThrowIfUnsupported);
        Assert.Equal("tcx was requested, but tcx needs kernel ≥ 6.6; this is 6.1.0-18-amd64; use attach mode auto or tc", e.Message);
        Assert.Equal("tcx, as requested", BpfFeatures.ChooseAttachMode(AttachMode.Tcx, WithTcx).Reason);
    }

    [Fact]
    public void Attaching_needs_a_resolved_mode()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DeviceAttachment.Attach(AttachMode.Auto, null!, 1, HookDirection.Egress));
        Assert.StartsWith("tcx or tc: resolve auto with BpfFeatures.ChooseAttachMode first", e.Message);
    }
}
