// `microseg explain` against `microseg config check` of the same large config, in one run: a
// forest of 20,000 groups (depth 8) with 100,000 rules, a tenth of them naming a service. Both
// are the built binary, timed wall-clock (median of 5 after a warm-up), with the start-up floor
// (`microseg --version`) for scale. Explain should resolve one pair, not the whole config.
using System.Diagnostics;
using System.Globalization;
using Microseg.Lab;
using Microseg.Policy;

namespace Microseg.Bench;

public static class ExplainBench
{
    private const int Groups = 20_000, Rules = 100_000, Seed = 20261128;

    /// <summary>PolicyBench's random forest and rules, with every tenth rule given a service
    /// (tcp/5432, udp/8000-8080 or icmp) and its id derived again.</summary>
    public static PolicyConfig Config()
    {
        var config = PolicyBench.RandomConfig(Groups, Rules, new Random(Seed));
        Service[] services = [new(Service.Tcp, new PortRange(5432, 5432)), new(Service.Udp, new PortRange(8000, 8080)), new(Service.Icmp)];
        int k = 0;
        var rules = config.Rules.Values.Select(r =>
        {
            if (k++ % 10 != 0) return r;
            var key = r.Key with { Service = services[k % services.Length] };
            return new Rule(config.DerivedRuleId(key)!, key, r.Action);
        });
        return PolicyConfig.Create(config.Groups.Values, rules);
    }

    public static Task Run(Report report)
    {
        var dir = Directory.CreateTempSubdirectory("microseg-bench-explain-");
        try
        {
            var config = Config();
            File.WriteAllBytes(Path.Combine(dir.FullName, "microseg.cfg"), SectionConfig.WriteBytes(config));
            var size = new FileInfo(Path.Combine(dir.FullName, "microseg.cfg")).Length;
            string[] Cli(params string[] args) => [.. args, "--config-dir", dir.FullName];
            Shell.Check(Paths.Microseg, Cli("commit"));
            var snapshotSize = new FileInfo(Path.Combine(dir.FullName, "running-config.json")).Length;

            // The deepest source and destination (8 ancestors each), and a pair with a service rule.
            var engine = new PolicyEngine(config);
            string Deepest(int skip) => config.Groups.Keys.OrderByDescending(g => Depth(config, g)).ThenBy(g => g, StringComparer.Ordinal).Skip(skip).First();
            var (src, dst) = (Deepest(0), Deepest(1));
            var withService = config.Rules.Values.First(r => r.Service is { Ports: not null } && r.Src is not null);

            var rows = new List<(string What, string[] Args)>
            {
                ("microseg --version (start-up floor)", ["--version"]),
                ("config check", Cli("config", "check")),
                ($"explain {src} {dst} (depth {Depth(config, src)} and {Depth(config, dst)})", Cli("explain", src, dst)),
                ($"explain {withService.Src} {withService.Dst} --proto {Service.ProtoName(withService.Service!.Proto)} --dport {withService.Service.Ports!.Value.Lo}",
                    Cli("explain", withService.Src!, withService.Dst, "--proto", Service.ProtoName(withService.Service.Proto), "--dport", withService.Service.Ports.Value.Lo.ToString(CultureInfo.InvariantCulture))),
                ($"explain {src} {dst} --json", Cli("explain", src, dst, "--json")),
                ($"explain {src} {dst} --running (the snapshot)", Cli("explain", src, dst, "--running")),
            };
            report.Line($"`microseg explain` vs `microseg config check` on one config: {Groups:N0} groups (forest, depth ≤ 8), {Rules:N0} rules " +
                        $"(a tenth with a service); microseg.cfg {size / 1e6:F1} MB, running-config.json {snapshotSize / 1e6:F1} MB. " +
                        "Wall time of the built binary, median of 5 after a warm-up.");
            report.Line();
            report.Line("| command | ms | × config check |");
            report.Line("|---|---:|---:|");
            var times = new Dictionary<string, double>();
            foreach (var (what, args) in rows)
            {
                var expected = Shell.Run(Paths.Microseg, args);
                if (expected.ExitCode != 0 && what != "config check") throw new InvalidOperationException($"microseg {string.Join(' ', args)}: exit {expected.ExitCode}: {expected.Stderr}");
                times[what] = Median(Enumerable.Range(0, 5).Select(_ => Time(() => Shell.Run(Paths.Microseg, args))).ToList());
            }
            var check = times["config check"];
            foreach (var (what, _) in rows) report.Line($"| `{what}` | {times[what]:F0} | {times[what] / check:F2} |");
            report.Line();
            var explain = times[rows[2].What];
            report.Line($"explain / config check = {explain / check:F2} (target ≤ 0.50); explain above the start-up floor / check above it = " +
                        $"{(explain - times[rows[0].What]) / (check - times[rows[0].What]):F2}.");
            var answer = Shell.Run(Paths.Microseg, Cli("explain", src, dst)).Stdout.Split('\n')[0];
            report.Line($"answer: `{answer}` (the engine over the whole config says {PolicyJson.Word(engine.Verdict(src, dst))}).");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
        return Task.CompletedTask;
    }

    private static int Depth(PolicyConfig config, string group)
    {
        int depth = 0;
        for (var g = config.Groups[group].Parent; g is not null; g = config.Groups[g].Parent) depth++;
        return depth;
    }

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
