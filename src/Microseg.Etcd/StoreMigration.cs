// `microseg store migrate`: copies a configuration from one store to another, either way
// between the config directory and etcd: the pending config, the committed snapshot with its
// version (so agents watching the new store see the version they enforce, not a new one), and
// the API token records. A target that already holds a configuration is left alone unless
// asked to replace it.
using Microseg.Policy;

namespace Microseg.Etcd;

public sealed record MigrationResult(bool Pending, long? Version, int Tokens);

public static class StoreMigration
{
    public static MigrationResult Copy(IConfigStore from, IConfigStore to, bool replace)
    {
        var pending = from.ReadPending();
        var running = from.ReadRunning();
        var tokens = from.ReadTokens();
        if (!pending.Exists && running is null && tokens.Count == 0)
            throw new ConfigException(from.Description, "holds no configuration to copy (no pending config, no committed snapshot, no tokens)");
        if (!replace)
        {
            var existing = to.ReadPending().Exists ? to.PendingLocation
                : to.ReadRunning() is not null ? to.RunningLocation
                : to.ReadTokens().Count > 0 ? to.TokensLocation
                : null;
            if (existing is not null)
                throw new ConfigException(existing, "already holds a configuration: not replaced (migrate with --force to replace it)");
        }
        if (pending.Exists) to.EditPending(_ => pending.Config);
        if (running is not null) WriteRunning(to, running);
        to.EditTokens(_ => tokens);
        return new MigrationResult(pending.Exists, running?.Version, tokens.Count);
    }

    private static void WriteRunning(IConfigStore to, Snapshot snapshot)
    {
        switch (to)
        {
            case EtcdConfigStore etcd:
                etcd.WriteRunning(snapshot);
                break;
            case DirectoryConfigStore dir:
                AtomicFile.Write(dir.RunningPath, SnapshotFormat.WriteInto(File.Exists(dir.RunningPath) ? File.ReadAllBytes(dir.RunningPath) : null, snapshot, dir.RunningPath));
                break;
            default:
                throw new ArgumentException($"{to.Description}: cannot write a committed snapshot into this kind of store");
        }
    }
}
