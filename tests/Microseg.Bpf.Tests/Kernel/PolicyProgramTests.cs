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
    [InlineData(VerdictAction.Allow, Tcx.Pass)]
    [InlineData(VerdictAction.Deny, Tcx.Drop)]
    [InlineData((VerdictAction)7, Tcx.Drop)] // an action we do not know is not an allow
    public void Egress_enforces_the_verdict_of_the_pair(VerdictAction action, int expected)
    {
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(20));
        using (var verdicts = PolicyObject.Verdicts(policy)) verdicts.Update(new VerdictKey(11, 20), new VerdictValue(action));
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
            verdicts.Update(new VerdictKey(12, 20), new VerdictValue(VerdictAction.Allow));
            verdicts.Update(new VerdictKey(11, 21), new VerdictValue(VerdictAction.Allow));
        }
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        var run = ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 11, IfIndex = Lo });

        Assert.Equal(Tcx.Drop, run.ReturnValue);
    }

    [KernelFact]
    public void Egress_matches_an_untagged_packet_as_source_group_0()
    {
        using (var nics = PolicyObject.NicGroup(policy)) nics.Update(Lo, new NicInfo(20));
        using (var verdicts = PolicyObject.Verdicts(policy)) verdicts.Update(new VerdictKey(0, 20), new VerdictValue(VerdictAction.Allow));
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        Assert.Equal(Tcx.Pass, ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 0xFFFF0000, IfIndex = Lo }).ReturnValue);
        Assert.Equal(Tcx.Drop, ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 0x00000005, IfIndex = Lo }).ReturnValue);
    }

    [KernelFact]
    public void Egress_drops_for_an_unknown_nic_even_when_every_pair_is_allowed()
    {
        using (var verdicts = PolicyObject.Verdicts(policy))
            for (ushort dst = 0; dst < 4; dst++)
                verdicts.Update(new VerdictKey(11, dst), new VerdictValue(VerdictAction.Allow));
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        var run = ProgramTestRun.Run(egress, Frames.Guest1ToGuest2(), new SkBuff { Mark = 11, IfIndex = Lo });

        Assert.Equal(Tcx.Drop, run.ReturnValue);
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
