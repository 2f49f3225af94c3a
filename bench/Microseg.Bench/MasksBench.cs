// Verdict masks (schema 2) against the exact-pair verdicts of schema 1, in the same run:
// per-packet cost of policy_egress vs the schema-1 egress (bench/bpf/exact_pairs.bpf.c) through
// BPF_PROG_TEST_RUN, the kernel's own memory figure for both maps on the configs that broke the
// exact map, and PolicyEngine.CompileMasks vs Compile.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Bench;

public static class MasksBench
{
    private const int Repeat = 1_000_000, Rounds = 9;
    private const ushort Dst = 11;          // the NIC's group (ifindex 1, lo)
    private const ushort Allowed = 20;      // word 0, bit 20
    private const ushort DeniedBit = 12;    // word 0 is present, bit 12 clear
    private const ushort DeniedWord = 1000; // word 15 is absent

    /// <summary>struct exact_verdict_key / exact_verdict_value of the schema-1 baseline.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct ExactKey(ushort Src, ushort Dst)
    {
        public readonly ushort Src = Src;
        public readonly ushort Dst = Dst;
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct ExactValue(byte Action)
    {
        public readonly byte Action = Action;
        private readonly byte pad0, pad1, pad2;
    }

    private sealed class Programs : IDisposable
    {
        public readonly BpfObject MaskObject, ExactObject;
        public readonly BpfProgram Mask, Exact;
        public readonly BpfHashMap<VerdictKey, VerdictValue> Words;
        public readonly BpfHashMap<ExactKey, ExactValue> Pairs;

        public Programs()
        {
            MaskObject = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BpfObject(PolicyAbi.ObjectFile)), PolicyAbi.ObjectFile);
            MaskObject.Load();
            ExactObject = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BenchObject("exact_pairs.bpf.o")), "exact_pairs.bpf.o");
            ExactObject.Load();
            Mask = MaskObject.Program(PolicyAbi.EgressProgram);
            Exact = ExactObject.Program("exact_pairs_egress");
            Words = new BpfHashMap<VerdictKey, VerdictValue>(MaskObject.Map(PolicyAbi.VerdictsMap));
            Pairs = new BpfHashMap<ExactKey, ExactValue>(ExactObject.Map("verdicts"));
            using var maskNics = new BpfHashMap<uint, NicInfo>(MaskObject.Map(PolicyAbi.NicGroupMap));
            using var exactNics = new BpfHashMap<uint, NicInfo>(ExactObject.Map(PolicyAbi.NicGroupMap));
            maskNics.Update(1u, new NicInfo(Dst));
            exactNics.Update(1u, new NicInfo(Dst));
        }

        public void Dispose()
        {
            Words.Dispose(); Pairs.Dispose(); Mask.Dispose(); Exact.Dispose();
            MaskObject.Dispose(); ExactObject.Dispose();
        }
    }

    public static Task Run(Report report)
    {
        var frame = PacketBench.UdpFrame();
        report.Line($"policy_egress (schema 2, masks) against the schema-1 exact-pair egress compiled from bench/bpf/exact_pairs.bpf.c in the same run. " +
                    $"BPF_PROG_TEST_RUN, {Repeat:N0} runs x {Rounds} rounds, the two programs alternating round by round; median ns/packet.");
        report.Line();

        // 1. Per packet, with ~100k entries around the pair in each map.
        using (var p = new Programs())
        {
            p.Words.Update(new VerdictKey(Dst, Allowed >> VerdictWord.Shift), new VerdictValue(VerdictWord.BitOf(Allowed)));
            p.Pairs.Update(new ExactKey(Allowed, Dst), new ExactValue(1));
            for (ushort w = 0; w < 400; w++)
                for (ushort d = 100; d < 350; d++)
                    p.Words.Update(new VerdictKey(d, w), new VerdictValue(~0UL));
            for (ushort s = 1; s <= 400; s++)
                for (ushort d = 100; d < 350; d++)
                    p.Pairs.Update(new ExactKey(s, d), new ExactValue(1));
            PacketTable(report, frame, p, $"each map holding ~100k entries ({p.Words.Count():N0} words, {p.Pairs.Count():N0} pairs)");
        }

        // 2. Memory, from the kernel, for the two configs.
        report.Line();
        report.Line("Map memory as the kernel counts it (`memlock` in /proc/self/fdinfo of the map fd, the figure `bpftool map show` prints as bytes_memlock); both maps are BPF_F_NO_PREALLOC hashes with max_entries 1,048,576.");
        report.Line();
        report.Line("An empty map already counts its bucket array (1,048,576 buckets); the per-entry figure is (memlock - empty memlock) / entries.");
        report.Line();
        report.Line("| config | local dst groups | mask words | mask map MiB | bytes/word | exact pairs needed | exact map | exact map MiB | bytes/pair |");
        report.Line("|---|---:|---:|---:|---:|---:|---|---:|---:|");
        using (var empty = new Programs())
        {
            maskEmpty = Memlock(empty.Words.Map);
            exactEmpty = Memlock(empty.Pairs.Map);
            report.Line($"| empty maps | 0 | 0 | {maskEmpty / 1048576.0:F1} | — | 0 | — | {exactEmpty / 1048576.0:F1} | — |");
        }
        var children = ChildrenConfig();
        var childDsts = Enumerable.Range(1, 60).Select(i => $"d{i}").ToList();
        var full = FullColumnConfig();
        var fullDsts = Enumerable.Range(1, 1000).Select(i => $"g{i}").ToList();
        foreach (var (name, config, dsts) in new[] {
            ("20,000 children of one parent, rule parent -> dN allow", children, childDsts),
            ("full column: 65,535 groups, every source allowed", full, fullDsts) })
        {
            var engine = new PolicyEngine(config);
            var words = engine.CompileMasks(dsts);
            using var p = new Programs();
            foreach (var w in words) p.Words.Update(new VerdictKey(w.Dst, w.SrcHi), new VerdictValue(w.Allow));
            long maskBytes = Memlock(p.Words.Map);
            // The exact map gets the same config's pairs until the kernel refuses one.
            long needed = 0;
            string? refused = null;
            foreach (var e in PairsOf(engine, dsts))
            {
                needed++;
                if (refused is not null) continue;
                try { p.Pairs.Update(new ExactKey(e.SrcMark, e.DstMark), new ExactValue(1)); }
                catch (BpfException ex) { refused = $"full: pair {needed:N0} refused ({Errno.Name(ex.Errno)})"; }
            }
            int held = p.Pairs.Count();
            long exactBytes = Memlock(p.Pairs.Map);
            report.Line($"| {name} | {dsts.Count:N0} | {words.Count:N0} | {maskBytes / 1048576.0:F1} | {(double)(maskBytes - maskEmpty) / words.Count:F0} | {needed:N0} | " +
                        $"{refused ?? $"holds all {held:N0}"}, holds {held:N0} | {exactBytes / 1048576.0:F1} | {(double)(exactBytes - exactEmpty) / held:F0} |");
            if (config == full)
            {
                // The per-packet cost again with both maps full. Group 11's column is rewritten
                // so that both deny paths exist: word 0 holds only source 20, word 15 is absent;
                // the exact map (its first 16 destinations, 11 among them) loses pair 12 -> 11.
                p.Words.Update(new VerdictKey(Dst, Allowed >> VerdictWord.Shift), new VerdictValue(VerdictWord.BitOf(Allowed)));
                p.Words.Delete(new VerdictKey(Dst, DeniedWord >> VerdictWord.Shift));
                p.Pairs.Delete(new ExactKey(DeniedBit, Dst));
                p.Pairs.Update(new ExactKey(Allowed, Dst), new ExactValue(1));
                report.Line();
                PacketTable(report, frame, p, $"both maps full ({p.Words.Count():N0} words, {p.Pairs.Count():N0} pairs)");
            }
        }

        // 3. Compile time.
        report.Line();
        report.Line("Compile time (median of 5 after a warm-up; allocated bytes of one run).");
        report.Line();
        report.Line("| config | dst groups | Compile ms | pair entries | alloc MB | CompileMasks ms | words | alloc MB | masks / pairs time |");
        report.Line("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        CompileRow(report, "20,000 children of one parent", children, childDsts);
        CompileRow(report, "65,535 groups, one rule", full, fullDsts.Take(60).ToList());
        CompileRow(report, "65,535 groups, one rule", full, fullDsts);
        return Task.CompletedTask;
    }

    private static long maskEmpty, exactEmpty;

    private static IEnumerable<VerdictEntry> PairsOf(PolicyEngine engine, List<string> dsts)
    {
        // Per destination, so that the 65.5 M pairs of the full column are never all in memory.
        foreach (var d in dsts)
            foreach (var e in engine.Compile([d]))
                yield return e;
    }

    private static void PacketTable(Report report, byte[] frame, Programs p, string what)
    {
        var cases = new List<(string Name, BpfProgram Program, ushort Mark, int Expect)>
        {
            ("allow: mask bit set", p.Mask, Allowed, 0),
            ("deny: word present, bit clear", p.Mask, DeniedBit, 2),
            ("deny: word absent", p.Mask, DeniedWord, 2),
            ("allow: pair entry", p.Exact, Allowed, 0),
            ("deny: no pair entry", p.Exact, DeniedBit, 2),
        };
        var times = cases.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < Rounds; round++)
            for (int i = 0; i < cases.Count; i++)
            {
                var c = cases[i];
                var r = ProgramTestRun.Run(c.Program, frame, new SkBuff { Mark = 0xabcd0000u | c.Mark, IfIndex = 1 }, Repeat);
                if (r.ReturnValue != c.Expect) throw new InvalidOperationException($"{c.Program}: mark {c.Mark} returned {r.ReturnValue}, expected {c.Expect}");
                times[i].Add(r.DurationNanoseconds);
            }
        double Median(int i) { var t = times[i].Order().ToList(); return t[t.Count / 2]; }
        int exactDeny = cases.FindIndex(c => c.Name == "deny: no pair entry");
        int exactAllow = cases.FindIndex(c => c.Name == "allow: pair entry");
        report.Line($"Per packet, {what}:");
        report.Line();
        report.Line("| program | path | ns/packet | × exact-pair, same path |");
        report.Line("|---|---|---:|---:|");
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            int against = c.Expect == 0 ? exactAllow : exactDeny;
            var ratio = against < 0 ? "—" : $"{Median(i) / Median(against):F2}";
            report.Line($"| {(c.Program == p.Mask ? "policy_egress (masks)" : "exact_pairs_egress (schema 1, baseline)")} | {c.Name} | {Median(i):F1} | {ratio} |");
        }
    }

    private static void CompileRow(Report report, string name, PolicyConfig config, List<string> dsts)
    {
        var engine = new PolicyEngine(config);
        engine.CompileMasks(dsts.Take(2)); engine.Compile(dsts.Take(2)); // JIT
        var (pairMs, pairs, pairMb) = Time(() => engine.Compile(dsts).Count, dsts.Count > 100 ? 1 : 5);
        var (maskMs, words, maskMb) = Time(() => engine.CompileMasks(dsts).Count, 5);
        report.Line($"| {name} | {dsts.Count:N0} | {pairMs:F0} | {pairs:N0} | {pairMb:F0} | {maskMs:F0} | {words:N0} | {maskMb:F1} | {maskMs / pairMs:F2} |");
    }

    private static (double Ms, int Count, double AllocMb) Time(Func<int> run, int runs)
    {
        GC.Collect();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int count = run();
        double allocMb = (GC.GetAllocatedBytesForCurrentThread() - before) / 1e6;
        var times = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            GC.Collect();
            var sw = Stopwatch.StartNew();
            run();
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return (times[runs / 2], count, allocMb);
    }

    /// <summary>The kernel's own figure for a map: the memlock line of its fd's fdinfo.</summary>
    private static long Memlock(BpfMap map)
    {
        var fd = map.Handle.DangerousGetHandle().ToInt32();
        foreach (var line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
            if (line.StartsWith("memlock:", StringComparison.Ordinal))
                return long.Parse(line["memlock:".Length..].Trim());
        throw new InvalidOperationException($"no memlock in /proc/self/fdinfo/{fd}");
    }

    /// <summary>Parent p (mark 1) with 20,000 children (marks 2..20001) and 60 destination
    /// groups d1..d60, each with a rule p -> dN allow: 1.2 M exact pairs.</summary>
    public static PolicyConfig ChildrenConfig()
    {
        var groups = new List<Group> { new("p", 1) };
        for (int i = 1; i <= 20_000; i++) groups.Add(new Group($"c{i}", 1 + i, "p"));
        var rules = new List<Rule>();
        for (int i = 1; i <= 60; i++)
        {
            groups.Add(new Group($"d{i}", 20_001 + i));
            rules.Add(new Rule($"r{i}", "p", $"d{i}", RuleAction.Allow));
        }
        return PolicyConfig.Create(groups, rules);
    }

    /// <summary>Every mark used: root "all" (mark 1) with 65,534 children g1.. (marks 2..65535)
    /// and one rule all -> all allow, so every group may reach every group: each destination's
    /// column is full (1,024 words, 65,535 sources).</summary>
    public static PolicyConfig FullColumnConfig()
    {
        var groups = new List<Group> { new("all", 1) };
        for (int i = 1; i <= 65_534; i++) groups.Add(new Group($"g{i}", 1 + i, "all"));
        return PolicyConfig.Create(groups, [new Rule("r", "all", "all", RuleAction.Allow)]);
    }
}
