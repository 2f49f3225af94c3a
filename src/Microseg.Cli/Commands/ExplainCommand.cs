// `microseg explain SRC DST`: the verdict, the deciding rule and every candidate.
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
        var json = new Option<bool>("--json") { Description = "JSON output: verdict, rule, reason, candidates" };
        var running = PolicySource.RunningOption();
        Arguments.Add(src); Arguments.Add(dst);
        Options.Add(json); Options.Add(running);
        SetAction(parse =>
        {
            var engine = PolicySource.Engine(parse, running);
            var e = engine.Explain(PolicySource.Source(engine, parse.GetValue(src)!), PolicySource.Group(engine, parse.GetValue(dst)!, "destination"));
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w => PolicyJson.WriteExplanation(w, e));
                return ExitCodes.Ok;
            }
            io.Out.WriteLine($"{e.Src ?? Names.Untagged} -> {e.Dst}: {Output.Json.Word(e.Verdict)}");
            io.Out.WriteLine($"  {e.Reason}");
            if (e.Candidates.Count == 0) return ExitCodes.Ok;
            io.Out.WriteLine("candidates (closest destination first, then closest source):");
            var table = new Output.Table("  RULE", "SRC", "DST", "ACTION", "DST_DIST", "SRC_DIST");
            foreach (var c in e.Candidates)
                table.Row("  " + c.Rule.Id, c.Rule.Src ?? Names.Untagged, c.Rule.Dst, Output.Json.Word(c.Rule.Action),
                    c.DstDistance.ToString(CultureInfo.InvariantCulture), c.SrcDistance.ToString(CultureInfo.InvariantCulture));
            table.WriteTo(io.Out);
            return ExitCodes.Ok;
        });
    }
}
