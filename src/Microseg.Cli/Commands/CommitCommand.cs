// `microseg commit`: validate the pending config and write the snapshot the agent reads.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class CommitCommand : Command
{
    public CommitCommand(Io io) : base("commit", "Validate microseg.cfg and write running-config.json atomically (nothing is written if it is invalid)")
    {
        var allowEmpty = new Option<bool>("--allow-empty")
        {
            Description = "Commit even an empty (or missing) pending config: its snapshot stops enforcing every NIC",
        };
        var json = new Option<bool>("--json")
        {
            Description = "JSON output: {\"data\": {\"version\", \"changed\", \"digest\", \"running_config\", \"marks_assigned\"}}; on failure {\"data\": null, \"message\", \"problems\"}",
        };
        var digest = PendingEdit.DigestOption();
        Options.Add(allowEmpty);
        Options.Add(json);
        Options.Add(digest);
        SetAction(parse =>
        {
            var store = MicrosegRootCommand.Store(parse);
            var expected = parse.GetValue(digest);
            if (PendingEdit.UsageProblem(io, store, expected)) return ExitCodes.Usage;
            if (!parse.GetValue(json)) return Commit(io, store, expected, parse.GetValue(allowEmpty));
            try
            {
                var result = store.Commit(expected, parse.GetValue(allowEmpty));
                Output.Json.Write(io.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartObject("data");
                    w.WriteNumber("version", result.Snapshot.Version);
                    w.WriteBoolean("changed", result.Changed);
                    w.WriteString("digest", result.PendingDigest);
                    w.WriteString("running_config", store.RunningLocation);
                    w.WriteStartArray("marks_assigned");
                    foreach (var g in result.MarksAssigned)
                    {
                        w.WriteStartObject();
                        w.WriteString("group", g.Name);
                        w.WriteNumber("mark", g.Mark!.Value);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                    w.WriteEndObject();
                });
                return ExitCodes.Ok;
            }
            catch (ConfigException e)
            {
                ConfigJson.WriteFailure(io.Out, e.Message, e.Problems);
                throw;
            }
            catch (DigestConflictException e)
            {
                ConfigJson.WriteFailure(io.Out, e.Message, [new ConfigProblem(store.PendingLocation, null, e.Message, "digest")]);
                throw;
            }
        });
    }

    private static int Commit(Io io, IConfigStore store, string? expected, bool allowEmpty)
    {
        var result = store.Commit(expected, allowEmpty);
        foreach (var g in result.MarksAssigned)
            io.Out.WriteLine($"assigned mark {g.Mark} to group {g.Name} (written to {store.PendingLocation})");
        io.Out.WriteLine(result.Changed
            ? $"committed version {result.Snapshot.Version} to {store.RunningLocation}"
            : $"nothing to commit: {store.RunningLocation} is already version {result.Snapshot.Version} of this config");
        return ExitCodes.Ok;
    }
}
