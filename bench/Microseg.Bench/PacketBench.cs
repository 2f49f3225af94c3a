// Per-packet cost of the policy programs (issue: the agent), through BPF_PROG_TEST_RUN in the
// kernel, as ratios to an empty program and to a bare one-lookup program from the same run.
using Microseg.Bpf;
using Microseg.Bpf.Abi;

namespace Microseg.Bench;

public static class PacketBench
{
    private const int Repeat = 2_000_000, Rounds = 7;

    public static Task Run(Report report)
    {
        using var policy = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BpfObject(PolicyAbi.ObjectFile)), PolicyAbi.ObjectFile);
        policy.Load();
        using var baseline = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BenchObject("baseline.bpf.o")), "baseline.bpf.o");
        baseline.Load();
        using var ingress = policy.Program(PolicyAbi.IngressProgram);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        using var empty = baseline.Program("baseline_empty");
        using var oneLookup = baseline.Program("baseline_one_lookup");
        using var nicGroup = new BpfHashMap<uint, NicInfo>(policy.Map(PolicyAbi.NicGroupMap));
        using var verdicts = new BpfHashMap<VerdictKey, VerdictValue>(policy.Map(PolicyAbi.VerdictsMap));
        using var one = new BpfHashMap<uint, uint>(baseline.Map("one"));

        // ifindex 1 (lo) plays the guest NIC, in group 11; db (20) may send to it, wol (12) may not.
        nicGroup.Update(1u, new NicInfo(11));
        one.Update(1u, 1u);
        verdicts.Update(new VerdictKey(11, 20 >> PolicyAbi.VerdictWordShift), new VerdictValue(1UL << 20));
        // A realistic table around it: 100k other words.
        for (ushort w = 0; w < 400; w++)
            for (ushort d = 100; d < 350; d++)
                verdicts.Update(new VerdictKey(d, w), new VerdictValue(~0UL));
        var frame = UdpFrame();

        double Measure(BpfProgram p, uint mark, int expect)
        {
            var ctx = new SkBuff { Mark = mark, IfIndex = 1 };
            var times = new List<double>();
            for (int i = 0; i < Rounds; i++)
            {
                var r = ProgramTestRun.Run(p, frame, ctx, Repeat);
                if (r.ReturnValue != expect) throw new InvalidOperationException($"{p}: returned {r.ReturnValue}, expected {expect}");
                times.Add(r.DurationNanoseconds);
            }
            times.Sort();
            return times[Rounds / 2];
        }

        var emptyNs = Measure(empty, 0, 0);
        var lookupNs = Measure(oneLookup, 0, 0);
        var rows = new (string Name, double Ns)[]
        {
            ("empty program (baseline)", emptyNs),
            ("one hash lookup (baseline)", lookupNs),
            ("policy_ingress (stamp group)", Measure(ingress, 0xabcd0000, 0)),
            ("policy_egress allow (db -> wiki)", Measure(egress, 20, 0)),
            ("policy_egress deny, bit clear (wol -> wiki)", Measure(egress, 12, 2)),
        };
        report.Line($"BPF_PROG_TEST_RUN, {Repeat:N0} runs x {Rounds} rounds (median), 64-byte UDP frame, verdicts map holding {verdicts.Count():N0} entries.");
        report.Line();
        report.Line("| program | ns/packet | × empty | × one lookup |");
        report.Line("|---|---:|---:|---:|");
        foreach (var (name, ns) in rows)
            report.Line($"| {name} | {ns:F1} | {ns / emptyNs:F2} | {ns / lookupNs:F2} |");
        return Task.CompletedTask;
    }

    /// <summary>Ethernet + IPv4 + UDP, 64 bytes.</summary>
    public static byte[] UdpFrame()
    {
        var f = new byte[64];
        f[12] = 0x08; f[13] = 0x00;                 // IPv4
        f[14] = 0x45; f[16] = 0; f[17] = 50;        // version/IHL, total length 50
        f[22] = 64; f[23] = 17;                     // TTL, UDP
        f[26] = 10; f[27] = 77; f[29] = 1;          // 10.77.0.1
        f[30] = 10; f[31] = 77; f[33] = 2;          // 10.77.0.2
        f[34] = 0x1b; f[35] = 0x58; f[36] = 0x1b; f[37] = 0x59; f[39] = 30;
        return f;
    }
}
