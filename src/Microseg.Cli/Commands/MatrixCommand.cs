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
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w => PolicyJson.WriteMatrix(w, engine));
                return ExitCodes.Ok;
            }
            var table = new Output.Table(["SRC \\ DST", .. engine.Groups]);
            foreach (var row in engine.Matrix().GroupBy(e => e.Src ?? Names.Untagged))
                table.Row([row.Key, .. row.Select(e => Output.Json.Word(e.Verdict))]);
            table.WriteTo(io.Out);
            return ExitCodes.Ok;
        });
    }
}
