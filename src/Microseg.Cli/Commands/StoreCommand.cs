// `microseg store migrate --to STORE`: the configuration of this store (--config-dir or
// --store) copied into another: a config directory into etcd, or etcd back into a directory.
using System.CommandLine;
using Microseg.Etcd;

namespace Microseg.Cli.Commands;

public sealed class StoreCommand : Command
{
    public StoreCommand(Io io) : base("store", "Work on the config store itself")
    {
        var migrate = new Command("migrate", "Copy the pending config, the committed snapshot (with its version) and the API tokens to another store");
        var to = new Option<string>("--to")
        {
            Description = "The target: etcd://HOST:PORT[,HOST:PORT...][/PREFIX/] or a config directory (which must exist)",
            Required = true,
        };
        var force = new Option<bool>("--force") { Description = "Replace a configuration the target already holds" };
        migrate.Options.Add(to);
        migrate.Options.Add(force);
        migrate.SetAction(parse =>
        {
            var from = MicrosegRootCommand.Store(parse);
            var target = parse.GetValue(to)!;
            if (!EtcdStoreOptions.IsEtcd(target) && !Directory.Exists(target))
                throw new UserException($"--to {target}: no such directory (create it first, or give etcd://HOST:PORT)");
            var into = StoreSelection.Open(target, target, null);
            var result = StoreMigration.Copy(from, into, parse.GetValue(force));
            io.Out.WriteLine($"copied {from.Description} to {into.Description}: " +
                $"pending config {(result.Pending ? "copied" : "absent")}, " +
                (result.Version is { } v ? $"committed version {v}" : "nothing committed") +
                $", {result.Tokens} API token{(result.Tokens == 1 ? "" : "s")}");
            return ExitCodes.Ok;
        });
        Subcommands.Add(migrate);
    }
}
