// BPF_PROG_TEST_RUN for XDP programs: run on a frame we build and read back what the program
// made of it, or (live frames, kernel ≥ 5.18) let the kernel act on the verdict for real:
// redirected frames are transmitted, passed ones go up the stack. Both give the kernel's own
// time per run, which is what the forwarder benchmark reports.
namespace Microseg.Bpf;

public static class XdpTestRun
{
    // include/uapi/linux/bpf.h
    private const uint BPF_F_TEST_XDP_LIVE_FRAMES = 1u << 1;

    /// <summary>Runs <paramref name="program"/> on <paramref name="frame"/> (at least 14 bytes)
    /// <paramref name="repeat"/> times. With <paramref name="ingressIfIndex"/> (an interface of
    /// the calling thread's network namespace) the program sees it as ctx->ingress_ifindex.
    /// A redirect is decided, not carried out.</summary>
    public static TestRunResult Run(BpfProgram program, ReadOnlySpan<byte> frame, int ingressIfIndex = 0, int repeat = 1)
    {
        XdpMd? context = ingressIfIndex == 0 ? null : new XdpMd { DataEnd = (uint)frame.Length, IngressIfIndex = (uint)ingressIfIndex };
        var (retval, duration, output, _) = ProgramTestRun.Execute(program, frame, context, repeat, errno => Hint(errno, ingressIfIndex));
        return new TestRunResult(retval, duration, output, null);
    }

    /// <summary>Live frames (BPF_F_TEST_XDP_LIVE_FRAMES): <paramref name="repeat"/> copies of
    /// <paramref name="frame"/> arrive as if on <paramref name="ingressIfIndex"/> and the kernel
    /// carries out each verdict (XDP_REDIRECT transmits, XDP_PASS builds an skb for the stack).
    /// Returns the kernel's average nanoseconds per frame.</summary>
    public static unsafe uint RunLive(BpfProgram program, ReadOnlySpan<byte> frame, int ingressIfIndex, int repeat, int batchSize = 64)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeat);
        var context = new XdpMd { DataEnd = (uint)frame.Length, IngressIfIndex = (uint)ingressIfIndex };
        using var fd = program.Handle.Use();
        fixed (byte* dataIn = frame)
        {
            var opts = new Interop.Libbpf.bpf_test_run_opts
            {
                sz = (nuint)sizeof(Interop.Libbpf.bpf_test_run_opts),
                data_in = dataIn,
                data_size_in = (uint)frame.Length,
                ctx_in = &context,
                ctx_size_in = (uint)sizeof(XdpMd),
                repeat = repeat,
                flags = BPF_F_TEST_XDP_LIVE_FRAMES,
                batch_size = (uint)batchSize,
            };
            int result = Interop.Libbpf.bpf_prog_test_run_opts(fd.Value, &opts);
            if (result < 0)
                throw BpfException.FromErrno(-result, $"live-frames test-run {program} on {frame.Length} bytes × {repeat}",
                    -result == Errno.EINVAL ? $"live frames need kernel ≥ 5.18 (this is {BpfFeatures.KernelRelease}), a frame of 14..~3,500 bytes and a batch size ≤ 256" : Hint(-result, ingressIfIndex));
            return opts.duration;
        }
    }

    private static string? Hint(int errno, int ingressIfIndex) => errno switch
    {
        Errno.EINVAL => "XDP test runs need a frame of at least 14 bytes (and at most a page less headroom)",
        Errno.ENODEV => $"ingress ifindex {ingressIfIndex} is no interface in this network namespace",
        Errno.ENOSPC => "the program grew the frame beyond the output buffer",
        _ => null,
    };
}
