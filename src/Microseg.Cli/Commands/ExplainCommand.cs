// `microseg explain SRC DST [--proto P --dport N]`: the verdict, the deciding rule and every
// candidate; without a packet, also the verdict of each service the candidates name.
using System.CommandLine;
using System.Globalization;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class ExplainCommand : Command
{
    public ExplainCommand(Io io) : base("explain", "Explain the verdict for traffic from SRC (a group or 'untagged') to a NIC in group DST")
    {
        var src = new Argument<string>("SRC") { Description = "Source group, or 'untagged'" };
        var dst = new Argument<string>("DST") { Description = "Destination group" };
        var service = new ServiceOptions(
            "Answer for a packet of this protocol: tcp, udp, sctp, icmp, icmpv6 or a number 0..255 (default: list the verdict per service)",
            "With --proto tcp, udp or sctp: the packet's destination port (without it: a packet without a port, as a fragment after the first)", range: false);
        var json = new Option<bool>("--json") { Description = "JSON output: verdict, rule, reason, per-service verdicts, candidates" };
        var running = PolicySource.RunningOption();
        Arguments.Add(src); Arguments.Add(dst);
        service.AddTo(this);
        Options.Add(json); Options.Add(running);
        SetAction(parse =>
        {
            var (srcName, dstName) = (parse.GetValue(src)!, parse.GetValue(dst)!);
            var engine = PairEngine(parse, running, srcName, dstName);
            var e = engine.Explain(PolicySource.Source(engine, srcName), PolicySource.Group(engine, dstName, "destination"), service.PacketOf(parse));
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w => PolicyJson.WriteExplanation(w, e));
                return ExitCodes.Ok;
            }
            var pair = $"{e.Src ?? Names.Untagged} -> {e.Dst}";
            if (e.Packet is { } packet)
                io.Out.WriteLine($"{pair} {packet}{(packet.Port is null && Service.HasPorts(packet.Proto) ? " (no port)" : "")}: {Output.Json.Word(e.Verdict)}");
            else
                io.Out.WriteLine($"{pair}: {(e.DependsOnService ? "partial" : Output.Json.Word(e.Verdict))}");
            io.Out.WriteLine($"  {e.Reason}");
            if (e.Packet is null && e.DependsOnService)
            {
                io.Out.WriteLine("per service:");
                var perService = new Output.Table("  SERVICE", "VERDICT", "RULE");
                foreach (var v in e.PerService)
                    perService.Row("  " + ServiceText.Describe(v.Service), Output.Json.Word(v.Verdict), v.Rule?.Id ?? "(none: default deny)");
                perService.Row("  any other packet", Output.Json.Word(e.Verdict), e.Rule?.Id ?? "(none: default deny)");
                perService.WriteTo(io.Out);
            }
            if (e.Candidates.Count == 0) return ExitCodes.Ok;
            io.Out.WriteLine(e.Packet is null
                ? "candidates (closest destination first, then closest source, then the most specific service):"
                : "candidates matching the packet (closest destination first, then closest source, then the most specific service):");
            // The SERVICE column only when a candidate names a service: a config without
            // services reads as it always did.
            var services = e.Candidates.Any(c => c.Rule.Service is not null);
            var table = services
                ? new Output.Table("  RULE", "SRC", "DST", "SERVICE", "ACTION", "DST_DIST", "SRC_DIST")
                : new Output.Table("  RULE", "SRC", "DST", "ACTION", "DST_DIST", "SRC_DIST");
            foreach (var c in e.Candidates)
            {
                string?[] cells = [("  " + c.Rule.Id), c.Rule.Src ?? Names.Untagged, c.Rule.Dst, .. services ? [c.Rule.Service?.ToString() ?? "any"] : Array.Empty<string>(),
                    Output.Json.Word(c.Rule.Action), c.DstDistance.ToString(CultureInfo.InvariantCulture), c.SrcDistance.ToString(CultureInfo.InvariantCulture)];
                table.Row(cells);
            }
            table.WriteTo(io.Out);
            return ExitCodes.Ok;
        });
    }

    /// <summary>The engine over what decides SRC -> DST: of the pending config (or the
    /// committed snapshot) only the two ancestor chains and the rules between them are read and
    /// checked, so that a large config is not read whole to answer for one pair.</summary>
    private static PolicyEngine PairEngine(ParseResult parse, Option<bool> running, string src, string dst)
    {
        var store = MicrosegRootCommand.Store(parse);
        var source = src == Names.Untagged ? null : src;
        PolicyConfig read;
        string where;
        if (parse.GetValue(running) || parse.GetValue(MicrosegRootCommand.RunningConfig) is not null)
        {
            read = (store.ReadRunningPair(source, dst) ?? throw new UserException($"nothing committed yet: {store.RunningLocation} does not exist (run 'microseg commit')")).Config;
            where = store.RunningLocation;
        }
        else
        {
            var pending = store.ReadPendingPair(source, dst);
            if (!pending.Exists) throw new UserException(PendingEdit.MissingMessage(store));
            (read, where) = (pending.Config, store.PendingLocation);
        }
        // Checked before marks are filled in: a mark the file does not hold yet is commit's to
        // choose, among all groups, not these.
        Validation.Ensure(read);
        var (config, _) = Marks.AssignMissing(read);
        foreach (var (name, role) in new[] { (src, "source"), (dst, "destination") })
            if (!(role == "source" && name == Names.Untagged) && !config.Groups.ContainsKey(name))
                throw new UserException($"unknown {role} group '{Text.Clip(name)}' (no such group in {where}; see 'microseg group list')");
        return new PolicyEngine(config);
    }
}

/// <summary>A per-service line as people read it: "tcp/5432", "tcp (other ports)", "icmp".</summary>
internal static class ServiceText
{
    public static string Describe(Service service) =>
        service.Ports is null && Service.HasPorts(service.Proto) ? $"{service} (other ports)" : service.ToString();

    /// <summary>"tcp/5432 allow, tcp (other ports) deny, other deny".</summary>
    public static string Breakdown(Explanation e) =>
        string.Join(", ", e.PerService.Select(v => $"{Describe(v.Service)} {PolicyJson.Word(v.Verdict)}").Append($"other {PolicyJson.Word(e.Verdict)}"));
}
