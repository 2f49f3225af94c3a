using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class FeatureTests
{
    [KernelFact]
    public void Tcx_probe_agrees_with_the_kernel_version()
    {
        var release = BpfFeatures.KernelRelease;
        var version = Version.Parse(string.Join('.', release.Split('.', '-').Take(2)));

        var tcx = BpfFeatures.Tcx;

        Assert.Equal(version >= new Version(6, 6), tcx.IsSupported);
        if (tcx.IsSupported) Assert.Null(tcx.Reason);
        else Assert.Equal($"tcx needs kernel ≥ 6.6; this is {release}", tcx.Reason);
    }

    [KernelFact]
    public void Auto_follows_the_tcx_probe_of_this_kernel()
    {
        var choice = BpfFeatures.ChooseAttachMode(AttachMode.Auto);

        Assert.True(choice.IsSupported);
        Assert.Equal(BpfFeatures.Tcx.IsSupported ? AttachMode.Tcx : AttachMode.Tc, choice.Effective);
        Assert.StartsWith(BpfFeatures.Tcx.IsSupported ? "auto: tcx" : "auto: tc (", choice.Reason);
    }
}
