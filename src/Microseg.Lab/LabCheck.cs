// `lab check`: sends real traffic between every pair of guests and compares what arrived with
// what the engine says for the committed policy, marking every difference.
using System.Text;
using Microseg.Policy;

namespace Microseg.Lab;

public sealed record PairResult(LabGuest Src, LabGuest Dst, bool Expected, bool Observed)
{
    public bool Matches => Expected == Observed;
}

public sealed record CheckReport(IReadOnlyList<PairResult> Udp, IReadOnlyList<PairResult> Tcp, IReadOnlyList<PairResult> Icmp)
{
    public bool AllMatch => Udp.Concat(Tcp).Concat(Icmp).All(p => p.Matches);
}

public static class LabCheck
{
    /// <summary>One-way expectation: a NIC without an assignment is not enforced at all;
    /// otherwise the engine's verdict for (sender's group or untagged, receiver's group).</summary>
    public static bool Expected(PolicyConfig config, PolicyEngine engine, LabGuest src, LabGuest dst)
    {
        var dstGroup = GroupOf(config, dst);
        if (dstGroup is null) return true;
        return engine.Verdict(GroupOf(config, src), dstGroup) == RuleAction.Allow;
    }

    public static string? GroupOf(PolicyConfig config, LabGuest g) =>
        config.Assignments.GetValueOrDefault(Assignment.DerivedId(g.Vmid, g.Iface))?.Group;

    public static CheckReport Run(Lab lab, IReadOnlyList<LabGuest>? guests = null)
    {
        guests ??= lab.Spec.Guests;
        var config = lab.Committed();
        var engine = new PolicyEngine(config);
        var probes = new Probes(lab);
        var udp = probes.OneWayUdp(guests);
        var tcp = probes.TcpConnect(guests);
        var icmp = probes.Ping(guests);
        var byName = guests.ToDictionary(g => g.Name);
        List<PairResult> Pairs(Dictionary<(string Src, string Dst), bool> observed, bool roundTrip) =>
            [.. observed.OrderBy(o => o.Key.Src, StringComparer.Ordinal).ThenBy(o => o.Key.Dst, StringComparer.Ordinal).Select(o =>
            {
                var (s, d) = (byName[o.Key.Src], byName[o.Key.Dst]);
                var expected = Expected(config, engine, s, d) && (!roundTrip || Expected(config, engine, d, s));
                return new PairResult(s, d, expected, o.Value);
            })];
        return new CheckReport(Pairs(udp, roundTrip: false), Pairs(tcp, roundTrip: true), Pairs(icmp, roundTrip: true));
    }

    /// <summary>The one-way matrix (observed beside expected) and the round-trip summaries.</summary>
    public static string Render(Lab lab, CheckReport report)
    {
        var config = lab.Committed();
        var guests = report.Udp.Select(p => p.Src).Distinct().ToList();
        string Label(LabGuest g) => $"{g.Name}({GroupOf(config, g) ?? "untagged"})";
        var sb = new StringBuilder();
        sb.AppendLine("One-way UDP, row = sender, column = receiver: observed/expected (allow or deny); '!' marks a difference.");
        string Cell(LabGuest s, LabGuest d) =>
            report.Udp.FirstOrDefault(p => p.Src == s && p.Dst == d) is { } p ? $"{Word(p.Observed)}/{Word(p.Expected)}{(p.Matches ? "" : " !")}" : "-";
        TextTable.Write(sb, [["", .. guests.Select(Label)], .. guests.Select(s => (string[])[Label(s), .. guests.Select(d => Cell(s, d))])]);
        foreach (var (name, pairs) in new[] { ("TCP connect", report.Tcp), ("ICMP echo", report.Icmp) })
        {
            var bad = pairs.Where(p => !p.Matches).ToList();
            sb.AppendLine($"{name} (needs both directions): {pairs.Count - bad.Count}/{pairs.Count} pairs as expected, {pairs.Count(p => p.Observed)} reachable");
            foreach (var p in bad)
                sb.AppendLine($"  ! {p.Src.Name} -> {p.Dst.Name}: observed {Word(p.Observed)}, expected {Word(p.Expected)}");
        }
        var udpBad = report.Udp.Count(p => !p.Matches);
        sb.AppendLine(report.AllMatch
            ? $"result: every observed verdict matches the policy ({report.Udp.Count + report.Tcp.Count + report.Icmp.Count} probes)"
            : $"result: MISMATCH ({udpBad} one-way, {report.Tcp.Count(p => !p.Matches)} TCP, {report.Icmp.Count(p => !p.Matches)} ICMP)");
        return sb.ToString();
    }

    private static string Word(bool allowed) => allowed ? "allow" : "deny";
}
