// `lab check`: sends real traffic between every pair of guests and compares what arrived with
// what the engine says for the committed policy (the probe's protocol and port, and replies to
// the opener of a flow when its group is stateful), marking every difference. It assumes
// infrastructure traffic on (guests find each other with ARP).
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
    /// <summary>One-way expectation for one packet: a NIC without an assignment is not enforced
    /// at all; otherwise the engine's verdict for (sender's group or untagged, receiver's group,
    /// the packet's protocol and destination port).</summary>
    public static bool Expected(PolicyConfig config, PolicyEngine engine, LabGuest src, LabGuest dst, Packet packet)
    {
        var dstGroup = GroupOf(config, dst);
        if (dstGroup is null) return true;
        return engine.Verdict(GroupOf(config, src), dstGroup, packet) == RuleAction.Allow;
    }

    /// <summary>A round trip (TCP connect, ICMP echo): the request as one-way; the answer passes
    /// as a reply when the opener's group is stateful (or its NIC is not enforced), else only
    /// where the rules allow it too.</summary>
    public static bool ExpectedRoundTrip(PolicyConfig config, PolicyEngine engine, LabGuest src, LabGuest dst, Packet request, Packet answer) =>
        Expected(config, engine, src, dst, request) &&
        (GroupOf(config, src) is not { } opener || engine.SwitchesOf(opener).Stateful || Expected(config, engine, dst, src, answer));

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
        List<PairResult> Pairs(Dictionary<(string Src, string Dst), bool> observed, Packet request, Packet? answer) =>
            [.. observed.OrderBy(o => o.Key.Src, StringComparer.Ordinal).ThenBy(o => o.Key.Dst, StringComparer.Ordinal).Select(o =>
            {
                var (s, d) = (byName[o.Key.Src], byName[o.Key.Dst]);
                var expected = answer is { } a ? ExpectedRoundTrip(config, engine, s, d, request, a) : Expected(config, engine, s, d, request);
                return new PairResult(s, d, expected, o.Value);
            })];
        return new CheckReport(
            Pairs(udp, Probes.UdpPacket, null),
            Pairs(tcp, Probes.TcpPacket, Probes.TcpAnswer),
            Pairs(icmp, Probes.IcmpPacket, Probes.IcmpPacket));
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
            sb.AppendLine($"{name} (the request, and the answer as a reply or by rule): {pairs.Count - bad.Count}/{pairs.Count} pairs as expected, {pairs.Count(p => p.Observed)} reachable");
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
