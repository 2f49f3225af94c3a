// `microseg matrix`: the effective verdict of every (source, destination) group pair.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class MatrixCommand : Command
{
    public MatrixCommand(Io io) : base("matrix", "Show the effective verdict for every source (rows) and destination group (columns)")
    {
        var json = new Option<bool>("--json") { Description = "JSON output: groups and one entry per pair with verdict and deciding rule" };
        var running = PolicySource.RunningOption();
        Options.Add(json); Options.Add(running);
        SetAction(parse =>
        {
            var engine = PolicySource.Engine(parse, running);
            var cells = engine.Matrix().ToList();
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("groups");
                    foreach (var g in engine.Groups) w.WriteStringValue(g);
                    w.WriteEndArray();
                    w.WriteStartArray("matrix");
                    foreach (var e in cells)
                    {
                        w.WriteStartObject();
                        w.WriteString("src", e.Src ?? Names.Untagged);
                        w.WriteString("dst", e.Dst);
                        w.WriteString("verdict", Output.Json.Word(e.Verdict));
                        if (e.Rule is null) w.WriteNull("rule"); else w.WriteString("rule", e.Rule.Id);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return ExitCodes.Ok;
            }
            var table = new Output.Table(["SRC \\ DST", .. engine.Groups]);
            foreach (var row in cells.GroupBy(e => e.Src ?? Names.Untagged))
                table.Row([row.Key, .. row.Select(e => Output.Json.Word(e.Verdict))]);
            table.WriteTo(io.Out);
            return ExitCodes.Ok;
        });
    }
}
