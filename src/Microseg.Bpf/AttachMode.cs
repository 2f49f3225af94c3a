// How programs are attached to network devices: tcx links where the kernel has them (≥ 6.6),
// else a cls_bpf filter on the clsact qdisc. The same SEC("tc") programs serve both: tcx's
// TCX_PASS/TCX_DROP/TCX_NEXT are tc's TC_ACT_OK/TC_ACT_SHOT/TC_ACT_UNSPEC.
namespace Microseg.Bpf;

public enum AttachMode
{
    /// <summary>tcx where the kernel has it, else tc (<see cref="BpfFeatures.ChooseAttachMode"/>).</summary>
    Auto,

    /// <summary>tcx links (kernel ≥ 6.6), pinned to outlive the process: <see cref="TcxLink"/>.</summary>
    Tcx,

    /// <summary>The clsact qdisc with a cls_bpf filter in direct-action mode: <see cref="TcAttachment"/>.</summary>
    Tc,
}

/// <summary>The attach mode in effect for a request, and why (for status).</summary>
/// <param name="Effective">Tcx or Tc, never Auto.</param>
/// <param name="IsSupported">False only when tcx was requested on a kernel without it.</param>
/// <param name="Reason">One line, e.g. "auto: tc (clsact qdisc + cls_bpf filter), because tcx
/// needs kernel ≥ 6.6; this is 6.1.0-18-amd64".</param>
public sealed record AttachModeChoice(AttachMode Requested, AttachMode Effective, bool IsSupported, string Reason)
{
    public void ThrowIfUnsupported()
    {
        if (!IsSupported) throw new BpfException(Reason);
    }

    public static string Word(AttachMode mode) => mode switch
    {
        AttachMode.Auto => "auto",
        AttachMode.Tcx => "tcx",
        AttachMode.Tc => "tc",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };
}
