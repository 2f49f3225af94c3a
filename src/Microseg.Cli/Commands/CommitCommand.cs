// `microseg commit`: validate the pending config and write the snapshot the agent reads.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class CommitCommand : Command
{
    public CommitCommand(Io io) : base("commit", "Validate microseg.cfg and write running-config.json atomically (nothing is written if it is invalid)")
    {
        SetAction(parse =>
        {
            var store = MicrosegRootCommand.Store(parse);
            var result = store.Commit();
            foreach (var g in result.MarksAssigned)
                io.Out.WriteLine($"assigned mark {g.Mark} to group {g.Name} (written to {store.PendingLocation})");
            io.Out.WriteLine(result.Changed
                ? $"committed version {result.Snapshot.Version} to {store.RunningLocation}"
                : $"nothing to commit: {store.RunningLocation} is already version {result.Snapshot.Version} of this config");
            return ExitCodes.Ok;
        });
    }
}
