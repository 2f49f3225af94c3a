// Agent benchmarks (issue: the agent), each with its baseline from the same run:
//   throughput  TCP between two guests, enforced with state on vs nothing attached (iperf3)
//   apply       full apply of 500 NICs and 1,000 groups, cold and no-op, vs the start-up floor
//   plug        `apply IFACE` wall time vs `microseg --version` (the .NET start-up floor)
using System.Diagnostics;
using System.Text.Json;
using Microseg.Lab;
using Microseg.Policy;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Bench;

public static class AgentBench
{
    private static readonly int ThroughputRounds = EnvInt("BENCH_THROUGHPUT_ROUNDS", 9), IperfSeconds = EnvInt("BENCH_IPERF_SECONDS", 5);

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int value) && value > 0 ? value : fallback;

    public static Task Throughput(Report report)
    {
        // Only a -> b is allowed: b's answers (its data and ACKs) reach a as replies of the flow
        // a opened, so every packet back takes the stateful path (verdict deny, flow hit).
        const string policy = "group: a\n\tmark 1\n\ngroup: b\n\tmark 2\n\nrule: p1-2\n\tsrc a\n\tdst b\n\taction allow\n\n" +
                              "assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup a\n\nassignment: vm200i0\n\tvmid 200\n\tiface 0\n\tgroup b\n";
        var spec = new LabSpec("bthru", policy, [new LabHost("node1")],
            [new LabGuest("a", "node1", 100, 0, "10.79.0.1/24"), new LabGuest("b", "node1", 200, 0, "10.79.0.2/24")]);
        var lab = new LabRig(spec, Paths.Microseg);
        try
        {
            lab.Up(TextWriter.Null);
            var server = Process.Start("ip", ["netns", "exec", lab.Namespace("b"), "iperf3", "-s", "-B", "10.79.0.2", "--logfile", "/dev/null"]);
            Thread.Sleep(500);
            // The same guests with a rule each way: b's packets are allowed by rule (no flow
            // lookup), which tells the flow table's share of the cost from the programs'.
            var withReverse = policy + "\nrule: p2-1\n\tsrc b\n\tdst a\n\taction allow\n";
            var paths = new (string Name, Action Setup)[]
            {
                ("nothing attached (baseline)", () => lab.Microseg(spec.Hosts[0], "clear")),
                ("enforced, state on (rule a -> b only; b's packets pass as replies of a's flow)", () => { lab.Commit(policy); lab.Microseg(spec.Hosts[0], "apply"); }),
                ("enforced, a rule each way (b's packets allowed by rule, no flow lookup)", () => { lab.Commit(withReverse); lab.Microseg(spec.Hosts[0], "apply"); }),
            };
            var rates = paths.Select(_ => new List<double>()).ToArray();
            var ratios = paths.Select(_ => new List<double>()).ToArray(); // each round's rate / the same round's baseline
            // Rounds interleave the paths, the order rotating each round so that none always runs
            // first or after the same neighbour; a slow spell of a loaded machine then hits all alike.
            for (int round = 0; round < ThroughputRounds; round++)
            {
                var rate = new double[paths.Length];
                for (int j = 0; j < paths.Length; j++)
                {
                    int p = (round + j) % paths.Length;
                    paths[p].Setup();
                    rate[p] = Iperf(lab);
                    rates[p].Add(rate[p]);
                }
                for (int p = 0; p < paths.Length; p++) ratios[p].Add(rate[p] / rate[0]);
            }
            server.Kill();
            server.WaitForExit();
            report.Line($"TCP throughput between two guests on one host bridge: iperf3, {IperfSeconds} s per run after a 1 s warm-up that is not counted, " +
                        $"{ThroughputRounds} rounds, each round runs every path once (order rotating); median and range over the rounds. " +
                        "The ratio is the median of each round's rate over that round's baseline.");
            report.Line();
            report.Line("| path | Gbit/s median | min – max | × nothing attached (median of rounds) | min – max |");
            report.Line("|---|---:|---:|---:|---:|");
            for (int p = 0; p < paths.Length; p++)
                report.Line($"| {paths[p].Name} | {Median(rates[p]):F2} | {rates[p].Min():F2} – {rates[p].Max():F2} | {Median(ratios[p]):F2} | {ratios[p].Min():F2} – {ratios[p].Max():F2} |");
        }
        finally
        {
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
    }

    private static double Iperf(LabRig lab)
    {
        var r = Shell.Run("ip", "netns", "exec", lab.Namespace("a"), "iperf3", "-c", "10.79.0.2", "-t", IperfSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-O", "1", "-J");
        if (r.ExitCode != 0) throw new InvalidOperationException($"iperf3: {r.Stdout}{r.Stderr}");
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e9;
    }

    public static Task Apply(Report report)
    {
        const int nics = 500, groups = 1_000, rules = 5_000;
        var config = PolicyBench.RandomConfig(groups, rules, new Random(7));
        var rng = new Random(11);
        for (int i = 0; i < nics; i++)
            config = config.Put(new Assignment(1000 + i, 0, $"g{rng.Next(groups)}"));
        var spec = new LabSpec("bapply", SectionConfig.Write(config), [new LabHost("node1")], []);
        var lab = new LabRig(spec, Paths.Microseg);
        var host = spec.Hosts[0];
        try
        {
            lab.Up(TextWriter.Null); // no NICs yet: an apply with nothing to enforce (loads the programs)
            lab.Microseg(host, "clear");
            var batch = Path.Combine(lab.Directory, "links.batch");
            File.WriteAllLines(batch, Enumerable.Range(0, nics).Select(i => $"link add veth{1000 + i}i0 type veth peer name p{1000 + i}"));
            Shell.Ip("-n", lab.Namespace(host.Name), "-batch", batch);

            var floor = Median(Enumerable.Range(0, 10).Select(_ => Time(() => Shell.Check("ip", "netns", "exec", lab.Namespace(host.Name), Paths.Microseg, "--version"))).ToList());
            var attach = LinkAttachFloor(lab.Namespace(host.Name), "veth1000i0");
            string coldOut = "";
            var cold = Time(() => coldOut = lab.Microseg(host, "apply"));
            // The no-op against the C program doing the kernel reads it needs (noop-baseline),
            // interleaved.
            var noopOuts = new List<string>();
            var noops = new List<double>();
            var kernel = new List<double>();
            string kernelOut = "";
            var pins = Path.Combine(lab.BpffsRoot(host), "policy");
            for (int i = 0; i < 9; i++)
            {
                noops.Add(Time(() => noopOuts.Add(lab.Microseg(host, "apply"))));
                kernel.Add(Time(() => kernelOut = Shell.Check("ip", "netns", "exec", lab.Namespace(host.Name), Paths.NoopBaseline, pins)));
            }
            double noop = Median(noops), c = Median(kernel);
            report.Line($"Full apply on one host: {nics} NICs, {groups:N0} groups (forest depth 8), {rules:N0} rules; wall time via `ip netns exec` (no-op and its C floor: median of 9, interleaved).");
            report.Line();
            report.Line("| run | ms | × start-up floor | what it did |");
            report.Line("|---|---:|---:|---|");
            report.Line($"| `microseg --version` (start-up floor) | {floor:F0} | 1.0 | |");
            report.Line($"| cold (load + verify programs, fill maps, 1,000 links) | {cold:F0} | {cold / floor:F1} | {MapsLine(coldOut)} |");
            report.Line($"| no-op (nothing changed) | {noop:F0} | {noop / floor:F1} | {MapsLine(noopOuts[^1])} |");
            report.Line($"| C + libbpf: the no-op's kernel reads (one netlink dump, every link pin opened and checked, three maps read in batches) | {c:F0} | {c / floor:F1} | {kernelOut.Trim()} |");
            report.Line();
            report.Line($"The no-op is {noop / c:F2} × the C program doing the kernel reads it needs, {noop / floor:F1} × `microseg --version`.");
            report.Line();
            if (Environment.GetEnvironmentVariable("BENCH_PROFILE") is "1")
                Profile(report, lab.Namespace(host.Name), [Paths.Microseg, "apply", "--config-dir", lab.ConfigDirectory, "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name]);
            report.Line($"Kernel floor, same run: one tcx link create takes {attach:F1} ms (median of 20, an empty program on one of these NICs): " +
                        $"the kernel waits for an RCU grace period under RTNL on every tcx attach, so links cannot be created in parallel. " +
                        $"1,000 links × {attach:F1} ms = {attach * 1000:F0} ms, so the cold apply is {cold / (attach * 1000):F2} × the kernel's own attach time.");
        }
        finally
        {
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
    }

    public static Task Plug(Report report)
    {
        const string policy = "group: a\n\tmark 1\n\nrule: p1-1\n\tsrc a\n\tdst a\n\taction allow\n";
        var spec = new LabSpec("bplug", policy, [new LabHost("node1")], []);
        var lab = new LabRig(spec, Paths.Microseg);
        var host = spec.Hosts[0];
        try
        {
            lab.Up(TextWriter.Null);
            var ns = lab.Namespace(host.Name);
            const int runs = 20;
            var floor = new List<double>();
            var plug = new List<double>();
            for (int i = 0; i < runs; i++)
            {
                // A new guest NIC each time, assigned in the snapshot: the real plug event.
                var nic = $"veth{2000 + i}i0";
                lab.Commit(policy + string.Concat(Enumerable.Range(0, i + 1).Select(j => $"\nassignment: vm{2000 + j}i0\n\tvmid {2000 + j}\n\tiface 0\n\tgroup a\n")));
                Shell.Ip("-n", ns, "link", "add", nic, "type", "veth", "peer", "name", $"p{2000 + i}");
                floor.Add(Time(() => Shell.Check("ip", "netns", "exec", ns, Paths.Microseg, "--version")));
                plug.Add(Time(() => lab.Microseg(host, "apply", nic)));
            }
            double f = Median(floor), p = Median(plug);
            report.Line($"Plug path: `microseg apply IFACE` for a NIC that just appeared, vs `microseg --version`, both via `ip netns exec` ({runs} runs, median).");
            report.Line();
            report.Line("| command | ms | × --version |");
            report.Line("|---|---:|---:|");
            report.Line($"| `microseg --version` (.NET start-up floor) | {f:F0} | 1.00 |");
            report.Line($"| `microseg apply vethNi0` (plug path) | {p:F0} | {p / f:F2} |");
            report.Line();
            report.Line($"The plug path costs {p - f:F0} ms above process start-up: reading the snapshot, one netlink query, map writes, two tcx links.");
        }
        finally
        {
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
    }

    /// <summary>The median time the kernel takes to create one tcx link (BPF_LINK_CREATE).</summary>
    private static double LinkAttachFloor(string ns, string nic)
    {
        using var obj = Microseg.Bpf.BpfObject.OpenMemory(File.ReadAllBytes(Paths.BenchObject("baseline.bpf.o")), "baseline.bpf.o");
        obj.Load();
        using var empty = obj.Program("baseline_empty");
        return Microseg.Netlink.NetworkNamespace.Run(ns, () =>
        {
            using var rt = new Microseg.Netlink.RtNetlink();
            var ifIndex = rt.GetLink(nic)!.IfIndex;
            var times = new List<double>();
            for (int i = 0; i < 20; i++)
            {
                var sw = Stopwatch.StartNew();
                var link = Microseg.Bpf.TcxLink.Create(empty, ifIndex, Microseg.Bpf.TcxDirection.Egress);
                times.Add(sw.Elapsed.TotalMilliseconds);
                link.Dispose(); // unpinned: detached when its fd closes
            }
            return Median(times);
        });
    }

    /// <summary>BENCH_PROFILE=1: where a no-op full apply spends its time: the system calls it
    /// makes (strace -c -f) and the functions its CPU time goes to (perf record, top 30 by self time).</summary>
    internal static void Profile(Report report, string ns, string[] command)
    {
        var strace = Shell.Run("ip", ["netns", "exec", ns, "strace", "-c", "-f", "-o", "/dev/stderr", .. command]);
        report.Line();
        report.Line("Profile of one no-op full apply (BENCH_PROFILE=1): system calls (`strace -c -f`), then CPU by function (`perf record -g`, self time).");
        report.Line();
        report.Line("```");
        foreach (var line in strace.Stderr.Split('\n').Take(30)) report.Line(line);
        report.Line("```");
        var data = Path.Combine(Path.GetTempPath(), $"bench-profile-{Environment.ProcessId}.data");
        Shell.Run("ip", ["netns", "exec", ns, "perf", "record", "-F", "5000", "-g", "-o", data, .. command]);
        var perf = Shell.Run("perf", "report", "-i", data, "--no-children", "--sort", "sym", "--stdio", "-g", "none", "--percent-limit", "0.7");
        // The same samples by the functions of ours they were taken under (inclusive): where the
        // time goes phase by phase.
        var inclusive = Shell.Run("perf", "report", "-i", data, "--children", "--sort", "sym", "--stdio", "-g", "none", "--percent-limit", "2");
        File.Delete(data);
        report.Line();
        report.Line("```");
        foreach (var line in perf.Stdout.Split('\n').Where(l => l.Contains('%')).Take(30)) report.Line(line.TrimEnd());
        report.Line("```");
        report.Line();
        report.Line("```");
        foreach (var line in inclusive.Stdout.Split('\n').Where(l => l.Contains("% ") && l.Contains("Microseg", StringComparison.Ordinal)).Take(40)) report.Line(line.TrimEnd());
        report.Line("```");
        report.Line();
    }

    private static string MapsLine(string output) =>
        output.Split('\n').FirstOrDefault(l => l.StartsWith("maps:", StringComparison.Ordinal))?.Trim() ?? "";

    private static double Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalMilliseconds;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
