// The "no verdict cliff" host, as the agent sees it: one parent group with 20,000 children
// allowed into 60 local destination groups (and the same with all 65,535 marks in use).
//   plan   PolicyPlan words (CompileMasks) vs the pairs the agent compiled before (Compile +
//          VerdictWord.Pack): time, allocation, peak working set
//   apply  `microseg apply` of the 20k-children host with 60 NICs, cold and no-op, vs the
//          start-up floor, with the map writes it did
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microseg.Agent.Policy;
using Microseg.Lab;
using Microseg.Policy;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Bench;

public static class ScaleBench
{
    private const int Destinations = 60, Children = 20_000;

    /// <summary>Group "kids" (mark 1) with 20,000 children (the even marks 2..40,000), d0..d59
    /// (marks 50,000 + 7k), one rule kids → dk allow each, a NIC veth{1000+k}i0 in each dk; and
    /// outsiders: 1,000 (odd marks 3..2,001) or every mark left (65,535 groups in all).</summary>
    public static string Config(bool allMarks)
    {
        var text = new StringBuilder();
        var used = new HashSet<int> { 1 };
        void Group(string name, int mark, string? parent = null)
        {
            text.Append(CultureInfo.InvariantCulture, $"group: {name}\n\tmark {mark}\n").Append(parent is null ? "\n" : $"\tparent {parent}\n\n");
            used.Add(mark);
        }
        Group("kids", 1);
        for (int k = 0; k < Destinations; k++) Group($"d{k}", 50_000 + 7 * k);
        for (int i = 0; i < Children; i++) Group($"c{2 + 2 * i}", 2 + 2 * i, "kids");
        foreach (var m in allMarks ? Enumerable.Range(1, 65_535).Where(m => !used.Contains(m)).ToList() : [.. Enumerable.Range(0, 1000).Select(j => 3 + 2 * j)])
            Group($"o{m}", m);
        for (int k = 0; k < Destinations; k++)
            text.Append(CultureInfo.InvariantCulture, $"rule: p1-{50_000 + 7 * k}\n\tsrc kids\n\tdst d{k}\n\taction allow\n\n");
        for (int k = 0; k < Destinations; k++)
            text.Append(CultureInfo.InvariantCulture, $"assignment: vm{1000 + k}i0\n\tvmid {1000 + k}\n\tiface 0\n\tgroup d{k}\n\n");
        return text.ToString();
    }

    private static readonly LocalInterface[] Nics = [.. Enumerable.Range(0, Destinations).Select(k => new LocalInterface($"veth{1000 + k}i0", 10 + k))];

    public static Task Plan(Report report)
    {
        var configs = new[] { ("20,000 children, 1,000 outsiders", false), ("65,535 groups (20,000 children)", true) }
            .Select(c => (Name: c.Item1, Config: SectionConfig.Parse(Config(c.Item2), "scale.cfg"))).ToList();
        report.Line($"Policy plan of one host, {Destinations} NICs in {Destinations} destination groups, one rule kids → dN allow each " +
                    "(median of 5 after a warm-up; allocation of one run; peak working set of the bench process after the row, which only grows: rows run top to bottom).");
        report.Line();
        report.Line("| config | path | ms | verdict words | pairs built | alloc MB | peak WS MB |");
        report.Line("|---|---|---:|---:|---:|---:|---:|");
        var rows = new List<(string Config, string Path, Func<(int Words, int Pairs)> Run)>();
        foreach (var (name, config) in configs)
            rows.Add((name, "plan words (CompileMasks, now)", () => (PolicyPlan.ForHost(config, Nics).Words.Count, 0)));
        foreach (var (name, config) in configs)
            rows.Add((name, "pairs + Pack (before)", () =>
            {
                var pairs = PolicyPlan.ForHost(config, Nics).Verdicts;
                return (VerdictWord.Pack(pairs).Count, pairs.Count);
            }));
        var ms = new Dictionary<(string, string), double>();
        foreach (var (cfg, path, run) in rows)
        {
            run();
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var result = run();
            double alloc = (GC.GetTotalAllocatedBytes(precise: true) - before) / 1e6;
            var times = Enumerable.Range(0, 5).Select(_ => Time(() => run())).ToList();
            ms[(cfg, path)] = Median(times);
            using var self = Process.GetCurrentProcess();
            report.Line($"| {cfg} | {path} | {Median(times):F0} | {result.Words:N0} | {result.Pairs:N0} | {alloc:F1} | {self.PeakWorkingSet64 / 1e6:F0} |");
        }
        report.Line();
        foreach (var (name, _) in configs)
            report.Line($"{name}: words / pairs time = {ms[(name, "plan words (CompileMasks, now)")] / ms[(name, "pairs + Pack (before)")]:F2}.");
        return Task.CompletedTask;
    }

    public static Task Apply(Report report)
    {
        var spec = new LabSpec("bscale", Config(allMarks: false), [new LabHost("node1")], []);
        var lab = new LabRig(spec, Paths.Microseg);
        var host = spec.Hosts[0];
        try
        {
            lab.Up(TextWriter.Null); // no NICs yet: loads the programs
            lab.Microseg(host, "clear");
            var batch = Path.Combine(lab.Directory, "links.batch");
            File.WriteAllLines(batch, Enumerable.Range(0, Destinations).Select(k => $"link add veth{1000 + k}i0 type veth peer name p{1000 + k}"));
            Shell.Ip("-n", lab.Namespace(host.Name), "-batch", batch);

            var floor = Median(Enumerable.Range(0, 10).Select(_ => Time(() => Shell.Check("ip", "netns", "exec", lab.Namespace(host.Name), Paths.Microseg, "--version"))).ToList());
            string coldOut = "";
            var cold = Time(() => coldOut = lab.Microseg(host, "apply"));
            var noopOuts = new List<string>();
            var noop = Median(Enumerable.Range(0, 5).Select(_ => Time(() => noopOuts.Add(lab.Microseg(host, "apply")))).ToList());
            var status = lab.Microseg(host, "status").Split('\n').FirstOrDefault(l => l.StartsWith("verdicts:", StringComparison.Ordinal))?.Trim() ?? "";
            report.Line($"Full apply of the 20,000-children host: {Destinations} NICs in {Destinations} destination groups, 21,061 groups; wall time of `microseg apply` (median of 5 for no-op).");
            report.Line();
            report.Line("| run | ms | × start-up floor | what it did |");
            report.Line("|---|---:|---:|---|");
            report.Line($"| `microseg --version` (start-up floor) | {floor:F0} | 1.0 | |");
            report.Line($"| cold (load + verify programs, fill maps, {2 * Destinations} links) | {cold:F0} | {cold / floor:F1} | {MapsLine(coldOut)} |");
            report.Line($"| no-op (nothing changed) | {noop:F0} | {noop / floor:F1} | {MapsLine(noopOuts[^1])} |");
            report.Line();
            report.Line($"status after it: `{status}`");
        }
        finally
        {
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
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
