// `microseg matrix`: the effective verdict of every (source, destination) group pair; a pair
// whose verdict depends on the service is `partial`, and listed below with its breakdown.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class MatrixCommand : Command
{
    public MatrixCommand(Io io) : base("matrix", "Show the effective verdict for every source (rows) and destination group (columns); 'partial': it depends on the service")
    {
        var json = new Option<bool>("--json") { Description = "JSON output: groups and one entry per pair with verdict, deciding rule and partial (0|1, with the per-service verdicts)" };
        var running = PolicySource.RunningOption();
        Options.Add(json); Options.Add(running);
        SetAction(parse =>
        {
            var engine = PolicySource.Engine(parse, running);
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w => PolicyJson.WriteMatrix(w, engine));
                return ExitCodes.Ok;
            }
            var cells = engine.Matrix().ToList();
            var table = new Output.Table(["SRC \\ DST", .. engine.Groups]);
            foreach (var row in cells.GroupBy(e => e.Src ?? Names.Untagged))
                table.Row([row.Key, .. row.Select(e => e.DependsOnService ? "partial" : Output.Json.Word(e.Verdict))]);
            table.WriteTo(io.Out);
            var partial = cells.Where(e => e.DependsOnService).ToList();
            if (partial.Count == 0) return ExitCodes.Ok;
            io.Out.WriteLine();
            io.Out.WriteLine("partial (the verdict depends on the service):");
            foreach (var e in partial)
                io.Out.WriteLine($"  {e.Src ?? Names.Untagged} -> {e.Dst}: {ServiceText.Breakdown(e)}");
            return ExitCodes.Ok;
        });
    }
}
