// The SRv6 carrier's per-packet cost (issue #4): carrier_egress and carrier_ingress run by
// BPF_PROG_TEST_RUN on SRv6 and non-SRv6 frames, each as a ratio to an empty tc program loaded
// and run in the same process on the same frame. The kernel times the repeats itself (ns per
// run, no syscall in it); rounds interleave the programs so that drift hits all alike, and
// the median round is reported. Needs root and `make bench` (it builds the baseline object).
using System.Buffers.Binary;
using Microseg.Bpf;
using Microseg.Bpf.Abi;

namespace Microseg.Bench;

public static class CarrierBench
{
    private const int Repeat = 200_000, Rounds = 7;
    private const uint Mark = 0x0001000a; // group 10, and someone else's bit above it

    public static Task Run(Report report)
    {
        using var carrier = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BpfObject(CarrierAbi.ObjectFile)), CarrierAbi.ObjectFile);
        carrier.Load();
        using var baseline = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BenchObject("baseline.bpf.o")), "baseline.bpf.o");
        baseline.Load();
        using var egress = carrier.Program(CarrierAbi.EgressProgram);
        using var ingress = carrier.Program(CarrierAbi.IngressProgram);
        using var empty = baseline.Program("baseline_empty");

        (string Name, byte[] Frame)[] frames =
        [
            ("IPv4 UDP (not SRv6)", Frame(ipv4: true)),
            ("IPv6 UDP (not SRv6)", Frame(srh: false)),
            ("SRv6: IPv6 + SRH", Frame()),
            ("SRv6 in QinQ, hop-by-hop + dest. options before the SRH", Frame(vlans: 2, exts: 2)),
            ("SRv6 at the bounds: 2 VLAN tags, 8 extension headers", Frame(vlans: 2, exts: CarrierAbi.MaxExtensionHeaders)),
        ];
        var programs = new[] { ("empty", empty), ("egress", egress), ("ingress", ingress) };
        var runs = new Dictionary<(int Frame, string Program), List<double>>();
        var context = new SkBuff { Mark = Mark, IfIndex = 1 };
        foreach (var (_, program) in programs) ProgramTestRun.Run(program, frames[0].Frame, context, 10_000); // warm-up
        for (int round = 0; round < Rounds; round++)
            for (int f = 0; f < frames.Length; f++)
                foreach (var (name, program) in programs)
                {
                    var run = ProgramTestRun.Run(program, frames[f].Frame, context, Repeat);
                    if (!runs.TryGetValue((f, name), out var list)) runs[(f, name)] = list = [];
                    list.Add(run.DurationNanoseconds);
                }

        report.Line($"BPF_PROG_TEST_RUN, {Repeat:N0} runs per measurement, median of {Rounds} interleaved rounds; ns per packet as the kernel times it.");
        report.Line("The egress program writes the group into the SRH tag on every SRv6 packet (bpf_skb_store_bytes); ingress reads it into skb->mark.");
        report.Line($"Kernel {BpfFeatures.KernelRelease}, {Environment.ProcessorCount} cores (shared).");
        report.Line();
        report.Line("| frame | bytes | empty ns | egress ns | egress / empty | ingress ns | ingress / empty |");
        report.Line("|---|---:|---:|---:|---:|---:|---:|");
        for (int f = 0; f < frames.Length; f++)
        {
            double e = Median(runs[(f, "empty")]), eg = Median(runs[(f, "egress")]), ig = Median(runs[(f, "ingress")]);
            report.Line($"| {frames[f].Name} | {frames[f].Frame.Length} | {e:F1} | {eg:F1} | ×{eg / e:F2} | {ig:F1} | ×{ig / e:F2} |");
        }
        report.Line();
        report.Line("Rerun: `make bench BENCH_ARGS=carrier` (root).");
        return Task.CompletedTask;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>Ethernet (+ VLAN tags), IPv6 (+ 8-byte extension headers) + a one-segment SRH +
    /// an inner IPv6/UDP packet with 64 bytes of payload; or plain IPv6/UDP, or IPv4/UDP.</summary>
    private static byte[] Frame(bool ipv4 = false, bool srh = true, int vlans = 0, int exts = 0)
    {
        var bytes = new List<byte> { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
        for (int i = 0; i < vlans; i++) bytes.AddRange(i == 0 && vlans > 1 ? [0x88, 0xa8, 0, 100] : [0x81, 0x00, 0, 200]);
        if (ipv4)
        {
            bytes.AddRange([0x08, 0x00, 0x45, 0, 0, 92, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            bytes.AddRange(new byte[8 + 64]);
            return [.. bytes];
        }
        bytes.AddRange([0x86, 0xdd]);
        int ip6 = bytes.Count;
        var header = new byte[40];
        header[0] = 0x60;
        header[7] = 64;
        bytes.AddRange(header);
        byte last = srh ? (byte)43 : (byte)17;
        bytes[ip6 + 6] = exts > 0 ? (byte)0 : last;
        for (int i = 0; i < exts; i++) bytes.AddRange([i + 1 < exts ? (byte)60 : last, 0, 1, 4, 0, 0, 0, 0]);
        if (srh)
        {
            var segment = new byte[24];
            segment[0] = 41; segment[1] = 2; segment[2] = CarrierAbi.SrhRoutingType;
            bytes.AddRange(segment);
            var inner = new byte[40];
            inner[0] = 0x60; inner[6] = 17; inner[7] = 64;
            bytes.AddRange(inner);
        }
        bytes.AddRange(new byte[8 + 64]);
        var frame = bytes.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(ip6 + 4), (ushort)(frame.Length - ip6 - 40));
        return frame;
    }
}
