// policy.bpf.o on real IPv4 frames through BPF_PROG_TEST_RUN. The context's ifindex is 1 (lo):
// the kernel requires an interface of the caller's namespace, and lo always is one.
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyProgramTests : IDisposable
{
    private const uint Lo = 1;
    private readonly TempBpffs bpffs = new();
    private readonly BpfObject policy;

    public PolicyProgramTests()
    {
        try
        {
            policy = PolicyObject.Load(bpffs);
        }
        catch
        {
            bpffs.Dispose(); // xunit does not dispose a test class whose constructor threw
            throw;
        }
    }

    public void Dispose()
    {
        policy.Dispose();
        bpffs.Dispose();
    }

    [KernelFact]
    public void Ingress_stamps_the_group_into_the_low_16_bits_and_keeps_the_upper_16()
    {
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(11));
        using var ingress = policy.Program(PolicyAbi.IngressProgram);

        var run = ProgramTestRun.Run(ingress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 0xABCD0000, IfIndex = Lo });

        Assert.Equal(Tcx.Pass, run.ReturnValue);
        Assert.Equal(0xABCD000Bu, run.Context!.Value.Mark);
    }

    [KernelFact]
    public void Ingress_replaces_a_previous_group()
    {
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(0x0102));
        using var ingress = policy.Program(PolicyAbi.IngressProgram);

        var run = ProgramTestRun.Run(ingress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 0x1234FFFF, IfIndex = Lo });

        Assert.Equal(0x12340102u, run.Context!.Value.Mark);
    }

    [KernelFact]
    public void Ingress_passes_an_unknown_nic_unchanged()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);
        byte[] frame = Frames.Guest1ToGuest2();

        var run = ProgramTestRun.Run(ingress, frame, new SkBuff { Mark = 0xABCD0007, IfIndex = Lo });

        Assert.Equal(Tcx.Pass, run.ReturnValue);
        Assert.Equal(0xABCD0007u, run.Context!.Value.Mark);
        Assert.Equal(frame, run.Data);
    }

    [KernelTheory]
    [InlineData(1UL << 11, 0UL, Tcx.Pass)]                      // source 11's bit
    [InlineData(~(1UL << 11), 0UL, Tcx.Drop)]                   // every other source of the word
    [InlineData(0UL, 1UL << 11, Tcx.Drop)]                      // the reserved service mask is no allow
    public void Egress_enforces_the_verdict_of_the_pair(ulong allow, ulong service, int expected)
    {
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(20));
        using (var verdicts = PolicyObject.Verdicts(policy)) verdicts.Update(PolicyObject.WordOf(11, 20), new VerdictValue(allow, service));
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        var run = ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 0xABCD000B, IfIndex = Lo });

        Assert.Equal(expected, run.ReturnValue);
    }

    [KernelFact]
    public void Egress_drops_a_pair_without_a_verdict()
    {
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(20));
        using (var verdicts = PolicyObject.Verdicts(policy))
        {
            PolicyObject.Allow(verdicts, 75, 20); // same destination, the next word
            PolicyObject.Allow(verdicts, 11, 21); // same source, another destination
        }
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        var run = ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 11, IfIndex = Lo });

        Assert.Equal(Tcx.Drop, run.ReturnValue);
    }

    [KernelFact]
    public void Egress_matches_an_untagged_packet_as_source_group_0()
    {
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(20));
        using (var verdicts = PolicyObject.Verdicts(policy)) PolicyObject.Allow(verdicts, 0, 20);
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        Assert.Equal(Tcx.Pass, ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 0xFFFF0000, IfIndex = Lo }).ReturnValue);
        Assert.Equal(Tcx.Drop, ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 0x00000005, IfIndex = Lo }).ReturnValue);
    }

    [KernelFact]
    public void Egress_drops_for_an_unknown_nic_even_when_every_pair_is_allowed()
    {
        using (var verdicts = PolicyObject.Verdicts(policy))
            for (ushort dst = 0; dst < 4; dst++)
                verdicts.Update(PolicyObject.WordOf(11, dst), new VerdictValue(~0UL, ~0UL));
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        var run = ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 11, IfIndex = Lo });

        Assert.Equal(Tcx.Drop, run.ReturnValue);
    }

    [KernelTheory]
    [InlineData(0)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(65535)]
    public void Egress_allows_a_source_at_a_word_boundary_by_its_bit_alone(int mark)
    {
        ushort src = (ushort)mark;
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(20));
        using (var verdicts = PolicyObject.Verdicts(policy)) PolicyObject.Allow(verdicts, src, 20);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        int Run(int m, uint upper = 0) =>
            ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = upper | (ushort)m, IfIndex = Lo }).ReturnValue;

        Assert.Equal(Tcx.Pass, Run(src));
        Assert.Equal(Tcx.Pass, Run(src, 0xFFFF0000)); // the upper 16 bits belong to others
        Assert.Equal(Tcx.Pass, Run(src, 0x5A5A0000));
        // Its neighbours, in the same word or the next, are not allowed by its bit.
        foreach (int other in new[] { mark - 1, mark + 1, mark ^ 63, mark ^ 64 })
            if (other is >= 0 and <= 65535 && other != mark)
                Assert.Equal(Tcx.Drop, Run(other));
    }

    [KernelFact]
    public void Egress_gives_every_one_of_the_65536_source_marks_its_own_bit()
    {
        // Random verdicts over the whole mark space, boundaries included, written as words.
        var rng = new Random(65536);
        var allowed = new bool[65536];
        foreach (int m in new[] { 0, 63, 64, 127, 128, 65472, 65535 }) allowed[m] = true;
        for (int i = 0; i < 4000; i++) allowed[rng.Next(65536)] = true;
        for (int w = 0; w < 65536; w += 64 * 7) Array.Fill(allowed, false, w, 64); // some words absent
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(20));
        int words = 0;
        using (var verdicts = PolicyObject.Verdicts(policy))
        {
            for (int w = 0; w < PolicyAbi.VerdictWordsPerDst; w++)
            {
                ulong mask = 0;
                for (int b = 0; b < 64; b++)
                    if (allowed[w * 64 + b]) mask |= 1UL << b;
                if (mask == 0) continue;
                verdicts.Update(new VerdictKey(20, (ushort)w), new VerdictValue(mask));
                words++;
            }
            verdicts.Update(new VerdictKey(21, 0), new VerdictValue(~0UL)); // another destination
        }
        Assert.InRange(words, 500, 1000);
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        var wrong = new List<string>();
        for (int m = 0; m < 65536; m++)
        {
            uint upper = (uint)rng.Next(65536) << 16;
            int got = ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = upper | (uint)m, IfIndex = Lo }).ReturnValue;
            if (got != (allowed[m] ? Tcx.Pass : Tcx.Drop)) wrong.Add($"mark 0x{upper | (uint)m:x8} (source {m}): returned {got}, expected {(allowed[m] ? "pass" : "drop")}");
        }
        Assert.True(wrong.Count == 0, $"{wrong.Count} source marks get the wrong verdict, first: {string.Join("; ", wrong.Take(5))}");
    }

    [KernelFact]
    public void Test_run_gives_back_the_context_fields_it_accepts_and_a_duration_per_run()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);

        var run = ProgramTestRun.Run(ingress, Frames.Guest1ToGuest2(),
            new SkBuff { Mark = 5, IfIndex = Lo, Priority = 3, Tstamp = 42 }, repeat: 1000);

        var ctx = run.Context!.Value;
        Assert.Equal(5u, ctx.Mark);
        Assert.Equal(3u, ctx.Priority);
        Assert.Equal(Lo, ctx.IfIndex);
        Assert.Equal(42ul, ctx.Tstamp);
        Assert.InRange(run.DurationNanoseconds, 0u, 1_000_000u);
    }

    [KernelFact]
    public void Test_run_refuses_context_fields_the_kernel_sets_itself()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);

        var e = Assert.Throws<BpfException>(() =>
            ProgramTestRun.Run(ingress, Frames.Guest1ToGuest2(), new SkBuff { Len = 60, IfIndex = Lo }));

        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith("test-run program policy_ingress on 60 bytes: EINVAL (Invalid argument); ", e.Message);
    }

    [KernelFact]
    public void Test_run_refuses_an_ifindex_that_is_no_interface()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);

        var e = Assert.Throws<BpfException>(() =>
            ProgramTestRun.Run(ingress, Frames.Guest1ToGuest2(), new SkBuff { IfIndex = 999_999 }));

        Assert.Equal(Errno.ENODEV, e.Errno);
        Assert.Contains("ifindex 999999 is no interface", e.Message);
    }
}
