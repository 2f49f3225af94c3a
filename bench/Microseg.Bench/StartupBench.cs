// Start-up and plug-path benchmarks of the native executable, each against a baseline timed in the
// same run, interleaved round by round (so machine load shifts both alike):
//   startup   `microseg --version` and a no-op plug (`apply IFACE` on a NIC already enforced) beside
//             a .NET Native AOT hello world (out/bench/hello/hello); BENCH_BEFORE_BIN=path times
//             another build's two in the same rounds
//   plug-c    `microseg apply IFACE` for a new NIC vs out/bench/plug-baseline, a C program doing the
//             same kernel work with libbpf on the same pins (nic_group update, two tcx links
//             created and pinned), when the NIC's group already has its verdicts on the host and
//             when it is new there; BENCH_PLUG_GROUPS/BENCH_PLUG_RULES make the committed config
//             larger (default: a few groups)
// Every command is started from a thread inside the host's network namespace (no `ip netns exec`
// in the measured time).
using System.Diagnostics;
using System.Globalization;
using Microseg.Lab;
using Microseg.Netlink;
using Microseg.Policy;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Bench;

public static class StartupBench
{
    private const int Runs = 20;

    public static Task Startup(Report report)
    {
        var (lab, host) = Up("bstart", ExtraConfig(0, 0), plugNics: Runs);
        try
        {
            var ns = lab.Namespace(host.Name);
            var nic = "veth3000i0";
            Shell.Ip("-n", ns, "link", "add", nic, "type", "veth", "peer", "name", "p3000");
            var microseg = Microseg(lab, host);
            Check(ns, microseg("apply", nic));
            // BENCH_BEFORE_BIN: another build (e.g. the ReadyToRun one) timed in the same rounds.
            var before = Environment.GetEnvironmentVariable("BENCH_BEFORE_BIN") is { Length: > 0 } b ? Path.GetFullPath(b) : null;
            Command beforeCommand = args => (before!, Microseg(lab, host)(args).Args);
            var hello = new List<double>();
            var version = new List<double>();
            var noop = new List<double>();
            var beforeVersion = new List<double>();
            var beforeNoop = new List<double>();
            for (int i = 0; i < Runs; i++)
            {
                hello.Add(Time(ns, (Paths.Hello, [])));
                version.Add(Time(ns, (Paths.Microseg, ["--version"])));
                noop.Add(Time(ns, microseg("apply", nic)));
                if (before is null) continue;
                beforeVersion.Add(Time(ns, (before, ["--version"])));
                beforeNoop.Add(Time(ns, beforeCommand("apply", nic)));
            }
            double h = Median(hello), v = Median(version), n = Median(noop);
            report.Line($"Start-up of the native executable ({Runs} runs each, interleaved, median; started inside the host's namespace).");
            report.Line();
            report.Line("| command | ms | × AOT hello world |");
            report.Line("|---|---:|---:|");
            report.Line($"| AOT hello world (baseline) | {h:F1} | 1.00 |");
            report.Line($"| `microseg --version` | {v:F1} | {v / h:F2} |");
            report.Line($"| `microseg apply {nic}`, already enforced (no-op plug) | {n:F1} | {n / h:F2} |");
            if (before is not null)
            {
                double bv = Median(beforeVersion), bn = Median(beforeNoop);
                report.Line($"| before (`{before}`): `microseg --version` | {bv:F1} | {bv / h:F2} |");
                report.Line($"| before: no-op plug | {bn:F1} | {bn / h:F2} |");
            }
            report.Line();
            report.Line($"Executable: {new FileInfo(Paths.Microseg).Length / 1e6:F1} MB (`{Paths.Microseg}`), hello world {new FileInfo(Paths.Hello).Length / 1e6:F1} MB.");
        }
        finally
        {
            LabRig.Down(lab.Spec.Name);
        }
        return Task.CompletedTask;
    }

    public static Task PlugVsC(Report report)
    {
        int groups = Setting("BENCH_PLUG_GROUPS", 0), rules = Setting("BENCH_PLUG_RULES", 0);
        var (lab, host) = Up("bplugc", ExtraConfig(groups, rules), plugNics: Runs);
        try
        {
            var ns = lab.Namespace(host.Name);
            var pins = Path.Combine(lab.BpffsRoot(host), "policy");
            var microseg = Microseg(lab, host);
            var c = new List<double>();
            var known = new List<double>();
            var fresh = new List<double>();
            for (int i = 0; i < Runs; i++)
            {
                // Three new NICs a round: one for each command. vm4xxx are in group a (on the host
                // already), vm5xxx each in a group of its own that no NIC here has yet.
                string cNic = $"veth{6000 + i}i0", knownNic = $"veth{4000 + i}i0", freshNic = $"veth{5000 + i}i0";
                foreach (var (name, peer) in new[] { (cNic, $"pc{i}"), (knownNic, $"pk{i}"), (freshNic, $"pf{i}") })
                    Shell.Ip("-n", ns, "link", "add", name, "type", "veth", "peer", "name", peer);
                c.Add(Time(ns, (Paths.PlugBaseline, [pins, cNic, "1"])));
                known.Add(Time(ns, microseg("apply", knownNic)));
                fresh.Add(Time(ns, microseg("apply", freshNic)));
            }
            var status = Check(ns, microseg("status"));
            foreach (var n in Enumerable.Range(0, Runs).SelectMany(i => new[] { $"veth{4000 + i}i0", $"veth{5000 + i}i0" }))
                if (!status.Contains(n, StringComparison.Ordinal)) throw new InvalidOperationException($"{n} is not enforced after its plug:\n{status}");
            double b = Median(c), k = Median(known), f = Median(fresh);
            var size = groups == 0 ? $"{Runs + 1} groups" : $"{groups:N0} groups, {rules:N0} rules";
            report.Line($"Plug path, a NIC that just appeared ({size} committed; {Runs} rounds, interleaved, median; started inside the host's namespace).");
            report.Line();
            report.Line("| command | ms | × C baseline |");
            report.Line("|---|---:|---:|");
            report.Line($"| C + libbpf: nic_group update, 2 tcx links created and pinned (baseline) | {b:F1} | 1.00 |");
            report.Line($"| `microseg apply IFACE`, group already on the host | {k:F1} | {k / b:F2} |");
            report.Line($"| `microseg apply IFACE`, group new on the host (its verdict words written too) | {f:F1} | {f / b:F2} |");
        }
        finally
        {
            LabRig.Down(lab.Spec.Name);
        }
        return Task.CompletedTask;
    }

    /// <summary>Group a (mark 1) with a NIC already enforced, groups n0.. (one per plug round)
    /// allowed from a, assignments for every NIC the rounds create, and <paramref name="groups"/>
    /// random groups with <paramref name="rules"/> rules besides.</summary>
    private static string ExtraConfig(int groups, int rules)
    {
        var config = groups > 0 ? PolicyBench.RandomConfig(groups, rules, new Random(5)) : PolicyConfig.Empty;
        const int firstMark = 60_000;
        config = config.Put(new Group("a", Mark: firstMark));
        config = config.Put(new Rule($"p{firstMark}-{firstMark}", "a", "a", RuleAction.Allow));
        for (int i = 0; i < Runs; i++)
        {
            var mark = firstMark + 1 + i;
            config = config.Put(new Group($"n{i}", Mark: mark));
            config = config.Put(new Rule($"p{firstMark}-{mark}", "a", $"n{i}", RuleAction.Allow));
            config = config.Put(new Assignment(4000 + i, 0, "a"));
            config = config.Put(new Assignment(5000 + i, 0, $"n{i}"));
        }
        config = config.Put(new Assignment(3000, 0, "a"));
        config = config.Put(new Assignment(2999, 0, "a"));
        return SectionConfig.Write(config);
    }

    /// <summary>A one-host lab with the config committed, programs loaded, and veth2999i0 (group a)
    /// enforced, so that group a's verdicts are on the host.</summary>
    private static (LabRig, LabHost) Up(string name, string policy, int plugNics)
    {
        var spec = new LabSpec(name, policy, [new LabHost("node1")], []);
        var lab = new LabRig(spec, Paths.Microseg);
        var host = spec.Hosts[0];
        lab.Up(TextWriter.Null);
        Shell.Ip("-n", lab.Namespace(host.Name), "link", "add", "veth2999i0", "type", "veth", "peer", "name", "p2999");
        lab.Microseg(host, "apply", "veth2999i0");
        return (lab, host);
    }

    /// <summary>`microseg ARGS` with the lab host's state paths.</summary>
    private delegate (string File, string[] Args) Command(params string[] args);

    private static Command Microseg(LabRig lab, LabHost host) => args =>
        (Paths.Microseg, [.. args, "--config-dir", lab.ConfigDirectory, "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name]);

    /// <summary>Wall time of one run, started from a thread inside namespace <paramref name="ns"/>;
    /// throws unless it exits 0.</summary>
    private static double Time(string ns, (string File, string[] Args) command) =>
        NetworkNamespace.Run(ns, () =>
        {
            var info = new ProcessStartInfo(command.File) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in command.Args) info.ArgumentList.Add(a);
            var sw = Stopwatch.StartNew();
            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            var ms = sw.Elapsed.TotalMilliseconds;
            if (p.ExitCode != 0) throw new InvalidOperationException($"{command.File} {string.Join(' ', command.Args)}: exit {p.ExitCode}: {stderr}{stdout.Result}");
            return ms;
        });

    private static string Check(string ns, (string File, string[] Args) command) =>
        NetworkNamespace.Run(ns, () => Shell.Check(command.File, command.Args));

    private static int Setting(string name, int fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
