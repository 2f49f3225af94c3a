// Per-packet cost of the policy programs with services, infrastructure traffic and flows,
// against today's shape (bench/bpf/seed_policy.bpf.c: the schema-2 programs, one verdict lookup
// after the NIC's) in the same run, through BPF_PROG_TEST_RUN. The programs alternate round by
// round; each figure is the median of the rounds. `make bench BENCH_ARGS=dataplane`.
using System.Net;
using Microseg.Bpf;
using Microseg.Bpf.Abi;

namespace Microseg.Bench;

public static class DataPlaneBench
{
    private const int Repeat = 1_000_000;
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROUNDS"), out int r) && r > 0 ? r : 9;
    private const uint Nic = 1;                 // lo plays the guest NIC
    private const ushort Dst = 11;              // its group
    private const ushort Plain = 20;            // a source without service rules, allowed
    private const ushort Denied = 21;           // a source without service rules, denied
    private const ushort Serviced = 22;         // a source with service rules: tcp 5432, the last of 16 ranges
    private const ushort OneRange = 23;         // a source with service rules: tcp 5432, its only range
    private static readonly IPAddress Guest = IPAddress.Parse("10.77.0.2"), Peer = IPAddress.Parse("10.77.0.1");

    private sealed record Case(string Name, BpfProgram Program, byte[] Frame, ushort Mark, int Expect, string? Baseline, double? Limit);

    /// <summary>A loaded policy object with the benchmark's tables filled in.</summary>
    private sealed class Policy : IDisposable
    {
        public Policy(string path)
        {
            Object = BpfObject.OpenMemory(File.ReadAllBytes(path), PolicyAbi.ObjectFile);
            Object.Load();
            Ingress = Object.Program(PolicyAbi.IngressProgram);
            Egress = Object.Program(PolicyAbi.EgressProgram);
            Nics = new BpfHashMap<uint, NicInfo>(Object.Map(PolicyAbi.NicGroupMap));
            Verdicts = new BpfHashMap<VerdictKey, VerdictValue>(Object.Map(PolicyAbi.VerdictsMap));
            Services = new BpfHashMap<ServiceKey, ServiceValue>(Object.Map(PolicyAbi.ServicesMap));
            Flows = new BpfHashMap<FlowKey, FlowValue>(Object.Map(PolicyAbi.FlowsMap));
            Counters = new BpfArrayMap<Counter>(Object.Map(PolicyAbi.CountersMap));
            MonitorConfig = new BpfArrayMap<MonitorConfig>(Object.Map(PolicyAbi.MonitorConfigMap));
            Fill();
        }

        public BpfObject Object { get; }
        public BpfProgram Ingress { get; }
        public BpfProgram Egress { get; }
        public BpfHashMap<uint, NicInfo> Nics { get; }
        public BpfHashMap<VerdictKey, VerdictValue> Verdicts { get; }
        public BpfHashMap<ServiceKey, ServiceValue> Services { get; }
        public BpfHashMap<FlowKey, FlowValue> Flows { get; }
        public BpfArrayMap<Counter> Counters { get; }
        public BpfArrayMap<MonitorConfig> MonitorConfig { get; }

        // The NIC is stateful with the infrastructure exception (the defaults). Word 0 of
        // group 11: Plain allowed, Denied not, Serviced has service rules and is denied otherwise.
        private void Fill()
        {
            Nics.Update(Nic, new NicInfo(Dst, (ushort)(NicFlags.Stateful | NicFlags.Infra)));
            // Counters are always on: every source counts on a slot of its own (Plain on 7).
            var slots = Enumerable.Range(0, 64).Select(i => (ushort)(100 + i)).ToArray();
            slots[Plain & PolicyAbi.VerdictWordMask] = 7;
            Verdicts.Update(new VerdictKey(Dst, 0), new VerdictValue(Bit(Plain), Bit(Serviced) | Bit(OneRange), slots));
            MonitorConfig.Update(0, new MonitorConfig(PolicyAbi.MonDefaultRate, PolicyAbi.MonDefaultBurst));
            Services.Update(new ServiceKey(Dst, Serviced, 6), new ServiceValue(PolicyAbi.ServiceDeny, Ranges));
            Services.Update(new ServiceKey(Dst, OneRange, 6), new ServiceValue(PolicyAbi.ServiceDeny, [(new ServicePort(5432, 5432), PolicyAbi.ServiceAllow)]));
            // Realistic tables around them: ~100k verdict words, 10k services entries, 50k flows.
            for (ushort w = 0; w < 400; w++)
                for (ushort d = 100; d < 350; d++)
                    Verdicts.Update(new VerdictKey(d, w), new VerdictValue(~0UL));
            for (ushort s = 1; s <= 40; s++)
                for (ushort d = 100; d < 350; d++)
                    Services.Update(new ServiceKey(d, s, 6), new ServiceValue(PolicyAbi.ServiceDeny, Ranges));
            var farPeer = IPAddress.Parse("10.78.0.1");
            for (int i = 0; i < 50_000; i++)
                Flows.Update(new FlowKey((uint)(2 + i % 64), Guest, farPeer, 6, (ushort)(1024 + i), 443), new FlowValue(1));
            // The flows the reply and the UDP datagrams belong to, recorded by the ingress program itself.
            ProgramTestRun.Run(Ingress, TestFrames.TcpPacket(Guest, Peer, 41000, 443, TcpFlags.Syn), new SkBuff { IfIndex = Nic });
            ProgramTestRun.Run(Ingress, TestFrames.UdpPacket(Guest, Peer, 41000, 53), new SkBuff { IfIndex = Nic });
            if (!Flows.TryLookup(new FlowKey(Nic, Guest, Peer, 6, 41000, 443), out _) || !Flows.TryLookup(new FlowKey(Nic, Guest, Peer, 17, 41000, 53), out _))
                throw new InvalidOperationException("policy_ingress did not record the flows the benchmark uses");
        }

        public void Dispose()
        {
            MonitorConfig.Dispose(); Counters.Dispose(); Flows.Dispose(); Services.Dispose(); Verdicts.Dispose(); Nics.Dispose(); Egress.Dispose(); Ingress.Dispose(); Object.Dispose();
        }
    }

    private static ulong Bit(ushort s) => 1UL << (s & PolicyAbi.VerdictWordMask);

    // Sixteen ranges, 5432 the last: the scan's longest path.
    private static readonly (ServicePort, byte)[] Ranges = Enumerable.Range(0, PolicyAbi.ServiceMaxPorts)
        .Select(i => (new ServicePort((ushort)(i == 15 ? 5432 : 1000 + i * 10), (ushort)(i == 15 ? 5432 : 1000 + i * 10)), PolicyAbi.ServiceAllow))
        .ToArray();

    public static Task Run(Report report)
    {
        using var policy = new Policy(Paths.BpfObject(PolicyAbi.ObjectFile));
        // BENCH_POLICY_BEFORE=path/to/policy.bpf.o: another build's programs (e.g. main's) run in
        // the same rounds, each path beside ours, so that before and after come from one run.
        var beforePath = Environment.GetEnvironmentVariable("BENCH_POLICY_BEFORE");
        using var before = string.IsNullOrEmpty(beforePath) ? null : new Policy(beforePath);
        using var seedObject = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BenchObject("seed_policy.bpf.o")), "seed_policy.bpf.o");
        seedObject.Load();
        using var baselineObject = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BenchObject("baseline.bpf.o")), "baseline.bpf.o");
        baselineObject.Load();
        using var seedIngress = seedObject.Program("seed_ingress");
        using var seedEgress = seedObject.Program("seed_egress");
        using var empty = baselineObject.Program("baseline_empty");
        using var seedNics = new BpfHashMap<uint, NicInfo>(seedObject.Map(PolicyAbi.NicGroupMap));
        using var seedVerdicts = new BpfHashMap<VerdictKey, VerdictValue>(seedObject.Map(PolicyAbi.VerdictsMap));
        seedNics.Update(Nic, new NicInfo(Dst));
        seedVerdicts.Update(new VerdictKey(Dst, 0), new VerdictValue(Bit(Plain)));
        for (ushort w = 0; w < 400; w++)
            for (ushort d = 100; d < 350; d++)
                seedVerdicts.Update(new VerdictKey(d, w), new VerdictValue(~0UL));
        var (ingress, egress, verdicts, services, flows, counters) = (policy.Ingress, policy.Egress, policy.Verdicts, policy.Services, policy.Flows, policy.Counters);

        var toGuest = TestFrames.TcpPacket(Peer, Guest, 40000, 5432, TcpFlags.Ack | TcpFlags.Psh);
        var reply = TestFrames.TcpPacket(Peer, Guest, 443, 41000, TcpFlags.Ack | TcpFlags.Psh);
        var fromGuest = TestFrames.TcpPacket(Guest, Peer, 41000, 443, TcpFlags.Ack | TcpFlags.Psh);
        var udpFromGuest = TestFrames.UdpPacket(Guest, Peer, 41000, 53);

        const string seedEgressAllow = "seed_egress allow (baseline)";
        const string seedIngressName = "seed_ingress (baseline)";
        var cases = new List<Case>
        {
            new("empty program", empty, toGuest, 0, 0, null, null),
            new(seedEgressAllow, seedEgress, toGuest, Plain, 0, null, null),
            new("seed_egress deny (baseline)", seedEgress, toGuest, Denied, 2, null, null),
            new(seedIngressName, seedIngress, fromGuest, 0, 0, null, null),
            new("policy_egress, pair without service rules, allow (counted)", egress, toGuest, Plain, 0, seedEgressAllow, 1.15),
            new("policy_egress, pair with service rules, tcp/5432 (its one range)", egress, toGuest, OneRange, 0, seedEgressAllow, 1.5),
            new("policy_egress, pair with service rules, tcp/5432 (16th of 16 ranges)", egress, toGuest, Serviced, 0, seedEgressAllow, 1.5),
            new("policy_egress, pair with service rules, port denied (16 ranges scanned)", egress,
                TestFrames.TcpPacket(Peer, Guest, 40000, 6000, TcpFlags.Ack), Serviced, 2, seedEgressAllow, null),
            new("policy_egress, reply: verdict deny, flow hit", egress, reply, Denied, 0, seedEgressAllow, 1.6),
            new("policy_egress, verdict deny, no flow (drop, counted, event refused by the bucket)", egress, toGuest, Denied, 2, seedEgressAllow, null),
            new("policy_ingress, stateful, TCP segment of an open flow (no table access)", ingress, fromGuest, 0, 0, seedIngressName, 1.3),
            new("policy_ingress, stateful, UDP datagram of an existing flow", ingress, udpFromGuest, 0, 0, seedIngressName, 1.3),
        };
        if (before is not null)
            foreach (var c in cases.Where(c => c.Baseline is not null).ToList())
                cases.Add(c with
                {
                    Name = c.Name + " [before]",
                    Program = c.Program == ingress ? before.Ingress : before.Egress,
                });
        // Each CPU keeps its last services decision; the same packet again and again hits it.
        // The build that never hits gives the cost of a miss (a packet of another pair or port).
        using var miss = new Policy(Paths.BenchObject("policy-service-miss.bpf.o"));
        foreach (var c in cases.Where(c => c.Program == egress && c.Mark is Serviced or OneRange).ToList())
            cases.Add(c with { Name = c.Name + " [services cache missed]", Program = miss.Egress, Limit = c.Limit });
        var times = cases.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < Rounds; round++)
            for (int i = 0; i < cases.Count; i++)
            {
                var c = cases[i];
                var r = ProgramTestRun.Run(c.Program, c.Frame, new SkBuff { Mark = 0xabcd0000u | c.Mark, IfIndex = Nic }, Repeat);
                if (r.ReturnValue != c.Expect) throw new InvalidOperationException($"{c.Name}: returned {r.ReturnValue}, expected {c.Expect}");
                times[i].Add(r.DurationNanoseconds);
            }
        double Median(int i) { var t = times[i].Order().ToList(); return t[t.Count / 2]; }
        var perCpu = new Counter[counters.Cpus];
        counters.LookupPerCpu(7, perCpu);
        if (perCpu.Sum(c => (long)c.Packets) < (long)Repeat * Rounds)
            throw new InvalidOperationException("policy_egress did not count the allowed packets on their slot");
        double MedianOf(string name) => Median(cases.FindIndex(c => c.Name == name));

        report.Line($"BPF_PROG_TEST_RUN, {Repeat:N0} runs x {Rounds} rounds (BENCH_ROUNDS), the programs alternating round by round; median ns/packet. " +
                    $"Tables: {verdicts.Count():N0} verdict words, {services.Count():N0} services entries (16 ranges each), {flows.Count():N0} flows " +
                    $"(flows max {flows.MaxEntries:N0}). The NIC is stateful with the infrastructure exception on. Baselines: bench/bpf/seed_policy.bpf.c " +
                    "(the programs before services and flows) and an empty program (the test run's own overhead). Counters are on (every " +
                    "verdict is counted on its slot); drops are reported on the events ring at 100/s per NIC, so nearly all of a run's drops " +
                    "are refused by the token bucket (the flood case). Each CPU remembers its last services decision (pair, protocol, " +
                    "port), so a pair's packets to the same port skip the services lookup; rows marked [services cache missed] are a " +
                    "build that never finds it there (every packet of another pair or port than the last on its CPU)." +
                    (before is null ? "" : $" Rows marked [before]: the programs of {beforePath} (BENCH_POLICY_BEFORE), same tables, same rounds."));
        report.Line();
        // The spread: each round's time over the same round's baseline, lowest and highest.
        string Spread(int i, string baseline)
        {
            int b = cases.FindIndex(c => c.Name == baseline);
            var perRound = times[i].Zip(times[b], (t, tb) => t / tb).ToList();
            return $"{perRound.Min():F2} – {perRound.Max():F2}";
        }
        report.Line("| program, path | ns/packet | ns min – max | baseline | × baseline | per round min – max | limit |");
        report.Line("|---|---:|---:|---|---:|---:|---:|");
        foreach (var (c, i) in cases.Select((c, i) => (c, i)))
        {
            string ratio = c.Baseline is null ? "—" : $"{Median(i) / MedianOf(c.Baseline):F2}";
            string spread = c.Baseline is null ? "—" : Spread(i, c.Baseline);
            string limit = c.Limit is double l ? $"≤ {l:F2}{(Median(i) / MedianOf(c.Baseline!) <= l ? "" : " **over**")}" : "—";
            report.Line($"| {c.Name} | {Median(i):F1} | {times[i].Min():F0} – {times[i].Max():F0} | {c.Baseline?.Replace(" (baseline)", "") ?? "—"} | {ratio} | {spread} | {limit} |");
        }

        // Memory, as the kernel counts it (memlock in the map fd's fdinfo).
        report.Line();
        long? flowBytes = MapMemory.Memlock(flows.Map), serviceBytes = MapMemory.Memlock(services.Map), counterBytes = MapMemory.Memlock(counters.Map);
        using (var emptyObject = BpfObject.OpenMemory(File.ReadAllBytes(Paths.BpfObject(PolicyAbi.ObjectFile)), PolicyAbi.ObjectFile))
        {
            emptyObject.Load();
            using var emptyServices = emptyObject.Map(PolicyAbi.ServicesMap);
            using var emptyFlows = emptyObject.Map(PolicyAbi.FlowsMap);
            long? emptyServiceBytes = MapMemory.Memlock(emptyServices), emptyFlowBytes = MapMemory.Memlock(emptyFlows);
            report.Line("| map | entries | max entries | memlock MiB | empty map MiB | bytes/entry |");
            report.Line("|---|---:|---:|---:|---:|---:|");
            report.Line($"| flows (LRU, preallocated) | {flows.Count():N0} | {flows.MaxEntries:N0} | {flowBytes / 1048576.0:F1} | {emptyFlowBytes / 1048576.0:F1} | {(double)flowBytes! / flows.MaxEntries:F0} (of max) |");
            int serviceCount = services.Count();
            report.Line($"| counters (per-CPU array, {counters.Cpus} possible CPUs) | {counters.MaxEntries:N0} | {counters.MaxEntries:N0} | {counterBytes / 1048576.0:F1} | {counterBytes / 1048576.0:F1} | {(double)counterBytes! / counters.MaxEntries:F0} |");
            report.Line($"| services (hash, no prealloc) | {serviceCount:N0} | {services.MaxEntries:N0} | {serviceBytes / 1048576.0:F1} | {emptyServiceBytes / 1048576.0:F1} | {(double)(serviceBytes - emptyServiceBytes)! / serviceCount:F0} |");
        }
        return Task.CompletedTask;
    }
}
