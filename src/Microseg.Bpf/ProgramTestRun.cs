// BPF_PROG_TEST_RUN: run a loaded program on a packet we build, in the kernel, without an
// interface. The way to prove what a program does with a given frame and context.
namespace Microseg.Bpf;

public static class ProgramTestRun
{
    /// <summary>Extra room in the output buffer for programs that grow the packet.</summary>
    private const int DataOutHeadroom = 256;

    /// <summary>
    /// Runs <paramref name="program"/> <paramref name="repeat"/> times on <paramref name="data"/>
    /// (for tc programs an Ethernet frame, at least 14 bytes) with the optional
    /// <paramref name="context"/> as its __sk_buff, and returns what the last run left.
    /// </summary>
    public static TestRunResult Run(BpfProgram program, ReadOnlySpan<byte> data, SkBuff? context = null, int repeat = 1)
    {
        var (retval, duration, output, contextOut) = Execute(program, data, context, repeat, errno => Hint(errno, context.GetValueOrDefault()));
        return new TestRunResult(retval, duration, output, context is null ? null : contextOut);
    }

    /// <summary>The one BPF_PROG_TEST_RUN call behind every test run: data in and out, and a
    /// context of the program type's own struct (__sk_buff, xdp_md) in and out when given.</summary>
    internal static unsafe (int ReturnValue, uint Duration, byte[] Data, TContext Context) Execute<TContext>(
        BpfProgram program, ReadOnlySpan<byte> data, TContext? context, int repeat, Func<int, string?> hint)
        where TContext : unmanaged
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeat);
        var dataOut = new byte[data.Length + DataOutHeadroom];
        TContext contextIn = context.GetValueOrDefault();
        TContext contextOut = default;

        using var fd = program.Handle.Use();
        fixed (byte* dataIn = data)
        fixed (byte* dataOutPtr = dataOut)
        {
            var opts = new Interop.Libbpf.bpf_test_run_opts
            {
                sz = (nuint)sizeof(Interop.Libbpf.bpf_test_run_opts),
                data_in = dataIn,
                data_size_in = (uint)data.Length,
                data_out = dataOutPtr,
                data_size_out = (uint)dataOut.Length,
                repeat = repeat,
            };
            if (context is not null)
            {
                opts.ctx_in = &contextIn;
                opts.ctx_size_in = (uint)sizeof(TContext);
                opts.ctx_out = &contextOut;
                opts.ctx_size_out = (uint)sizeof(TContext);
            }
            int result = Interop.Libbpf.bpf_prog_test_run_opts(fd.Value, &opts);
            if (result < 0)
                throw BpfException.FromErrno(-result, $"test-run {program} on {data.Length} bytes", hint(-result));
            return ((int)opts.retval, opts.duration, dataOut.AsSpan(0, (int)opts.data_size_out).ToArray(), contextOut);
        }
    }

    private static string? Hint(int errno, SkBuff context) => errno switch
    {
        Errno.EINVAL => "tc programs need a frame of at least 14 bytes, and the context may set only mark, priority, ifindex, ingress_ifindex, cb, tstamp, wire_len and gso_*",
        Errno.ENODEV => $"the context's ifindex {context.IfIndex} is no interface in this network namespace (1, lo, always is)",
        Errno.ENOSPC => "the program grew the packet beyond the output buffer",
        _ => null,
    };
}

/// <param name="ReturnValue">What the program returned (for tcx: -1 next, 0 pass, 2 drop).</param>
/// <param name="DurationNanoseconds">The kernel's average time per run.</param>
/// <param name="Data">The packet after the last run.</param>
/// <param name="Context">The __sk_buff after the last run, when a context was passed in.</param>
public sealed record TestRunResult(int ReturnValue, uint DurationNanoseconds, byte[] Data, SkBuff? Context);
