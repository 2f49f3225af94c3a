// scale-marks: the whole mark space. A random forest of BENCH_SCALE_GROUPS groups (default
// 65,535: every mark) with BENCH_SCALE_RULES rules (default 1,000,000), and BENCH_SCALE_NICS
// NICs (default 60) on one lab host, each in a random group: `config check`, `commit`, `explain`,
// the cold and the no-op full apply, and a plug (apply IFACE) of one more NIC, each run once by
// the built binary under /usr/bin/time -v: wall time and peak resident memory (max RSS).
using System.Globalization;
using System.Text.RegularExpressions;
using Microseg.Lab;
using Microseg.Policy;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Bench;

public static partial class MarkSpaceBench
{
    public static Task Run(Report report)
    {
        int groups = Setting("BENCH_SCALE_GROUPS", 65_535), rules = Setting("BENCH_SCALE_RULES", 1_000_000), nics = Setting("BENCH_SCALE_NICS", 60);
        var rng = new Random(65535);
        var config = PolicyBench.RandomConfig(groups, rules, rng);
        var names = config.Groups.Keys.ToList();
        for (int k = 0; k <= nics; k++) config = config.Put(new Assignment(1000 + k, 0, names[rng.Next(names.Count)]));
        var spec = new LabSpec("bmarks", "", [new LabHost("node1")], []);
        var lab = new LabRig(spec, Paths.Microseg);
        var host = spec.Hosts[0];
        try
        {
            lab.Build(TextWriter.Null); // namespaces, nothing committed yet
            var cfg = Path.Combine(lab.ConfigDirectory, "microseg.cfg");
            File.WriteAllBytes(cfg, SectionConfig.WriteBytes(config));
            var ns = lab.Namespace(host.Name);
            var batch = Path.Combine(lab.Directory, "links.batch");
            File.WriteAllLines(batch, Enumerable.Range(0, nics + 1).Select(k => $"link add veth{1000 + k}i0 type veth peer name p{1000 + k}"));
            string[] Dir(params string[] args) => [.. args, "--config-dir", lab.ConfigDirectory];
            string[] Host(params string[] args) => [.. Dir(args), "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name];
            var (src, dst) = (names[rng.Next(names.Count)], names[rng.Next(names.Count)]);

            var rows = new List<(string What, Measured M, string Note)>();
            rows.Add(("`microseg --version`", Measure(null, ["--version"]), ""));
            rows.Add(("`config check`", Measure(null, Dir("config", "check")), ""));
            rows.Add(("`commit`", Measure(null, Dir("commit")), $"running-config.json {new FileInfo(Path.Combine(lab.ConfigDirectory, "running-config.json")).Length / 1e6:F1} MB"));
            rows.Add(($"`explain {src} {dst}`", Measure(null, Dir("explain", src, dst)), ""));
            // Only the first nics NICs exist for the full apply; the last one appears after it.
            Shell.Ip("-n", ns, "-batch", batch);
            Shell.Ip("-n", ns, "link", "del", $"veth{1000 + nics}i0");
            var cold = Measure(ns, Host("apply"));
            rows.Add(($"`apply`, cold ({nics} NICs: load programs, fill maps, {2 * nics} links)", cold, Maps(cold.Output)));
            var noop = Measure(ns, Host("apply"));
            rows.Add(("`apply`, no-op", noop, Maps(noop.Output)));
            Shell.Ip("-n", ns, "link", "add", $"veth{1000 + nics}i0", "type", "veth", "peer", "name", $"p{1000 + nics}");
            var plug = Measure(ns, Host("apply", $"veth{1000 + nics}i0"));
            rows.Add(($"`apply veth{1000 + nics}i0` (plug, from the plug index)", plug, Maps(plug.Output)));
            var status = Shell.Check("ip", ["netns", "exec", ns, Paths.Microseg, .. Host("status")]);
            var verdicts = status.Split('\n').FirstOrDefault(l => l.StartsWith("verdicts:", StringComparison.Ordinal))?.Trim() ?? "";

            report.Line($"The whole mark space: {groups:N0} groups (random forest, depth ≤ 8), {rules:N0} rules, microseg.cfg {new FileInfo(cfg).Length / 1e6:F1} MB; " +
                        $"{nics} NICs on one lab host, each in a random group. Each command once, under `/usr/bin/time -v`.");
            report.Line();
            report.Line("| command | wall s | max RSS MB | |");
            report.Line("|---|---:|---:|---|");
            foreach (var (what, m, note) in rows) report.Line($"| {what} | {m.Seconds:F2} | {m.MaxRssKb / 1024.0:F0} | {note} |");
            report.Line();
            report.Line($"status after: `{verdicts}`");
        }
        finally
        {
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
    }

    private sealed record Measured(double Seconds, long MaxRssKb, string Output);

    /// <summary>One run under /usr/bin/time -v (inside namespace <paramref name="ns"/> when given); throws unless it exits 0.</summary>
    private static Measured Measure(string? ns, string[] args)
    {
        string[] command = ["/usr/bin/time", "-v", Paths.Microseg, .. args];
        var r = ns is null ? Shell.Run(command[0], command[1..]) : Shell.Run("ip", ["netns", "exec", ns, .. command]);
        if (r.ExitCode != 0) throw new InvalidOperationException($"microseg {string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr}");
        var wall = WallRegex().Match(r.Stderr);
        var rss = RssRegex().Match(r.Stderr);
        if (!wall.Success || !rss.Success) throw new InvalidOperationException($"no /usr/bin/time -v figures in:\n{r.Stderr}");
        double seconds = 0;
        foreach (var part in wall.Groups[1].Value.Split(':')) seconds = seconds * 60 + double.Parse(part, CultureInfo.InvariantCulture);
        return new Measured(seconds, long.Parse(rss.Groups[1].Value, CultureInfo.InvariantCulture), r.Stdout);
    }

    [GeneratedRegex(@"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)")]
    private static partial Regex WallRegex();

    [GeneratedRegex(@"Maximum resident set size \(kbytes\): ([0-9]+)")]
    private static partial Regex RssRegex();

    private static string Maps(string output) =>
        output.Split('\n').FirstOrDefault(l => l.StartsWith("maps:", StringComparison.Ordinal))?.Trim() ?? "";

    private static int Setting(string name, int fallback) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;
}
