// Where the configuration lives: the pending config (edited, guarded by a digest), the
// committed snapshot (read and watched by agents) and the API's token records. Everything that
// reads or writes configuration goes through this interface; the directory of files is the
// first implementation, a cluster store (revisions for digests, a watched key for the
// snapshot) is meant to be another class beside it, not edits across the tree.
namespace Microseg.Policy;

/// <summary>The pending config and the digest of the version it was read from. A digest is
/// opaque: callers compare it, hand it back to <see cref="IConfigStore.EditPending"/> and
/// <see cref="IConfigStore.Commit"/>, and never compute one. Exists is false when nothing is
/// stored yet (the config is then empty): reading commands say so instead of showing an empty
/// policy.</summary>
public sealed record PendingConfig(PolicyConfig Config, string Digest, bool Exists = true);

public sealed record CommitResult(Snapshot Snapshot, bool Changed, IReadOnlyList<Group> MarksAssigned, string PendingDigest);

/// <summary>The committed snapshot as a watcher sees it: null when nothing is committed, or
/// the reason it cannot be read (a watcher keeps what it had).</summary>
public sealed record RunningChange(Snapshot? Snapshot, ConfigException? Problem);

/// <summary>An API token as stored: its secret only as a salted SHA-256. Privileges are the
/// names the API gives them; the store keeps them, it does not interpret them.</summary>
public sealed record StoredToken(string Id, ValueList<string> Privileges, DateTimeOffset Created, string? Comment, byte[] Salt, byte[] Sha256);

public interface IConfigStore
{
    /// <summary>The store as messages name it ("/etc/microseg").</summary>
    string Description { get; }

    /// <summary>The pending config as messages name it, also in file:line errors ("/etc/microseg/microseg.cfg").</summary>
    string PendingLocation { get; }

    /// <summary>The committed snapshot as messages name it ("/etc/microseg/running-config.json").</summary>
    string RunningLocation { get; }

    /// <summary>The token records as messages name them.</summary>
    string TokensLocation { get; }

    /// <summary>Why <paramref name="digest"/> cannot be a digest of this store (a caller's
    /// typo, checked before anything is read), or null.</summary>
    string? DigestProblem(string digest);

    /// <summary>The pending config and its digest; nothing stored yet is an empty config
    /// (<see cref="PendingConfig.Exists"/> false).
    /// Reads of unchanged content may return the same instances, so callers may key what they
    /// derive from a config (an engine) on the instance.</summary>
    PendingConfig ReadPending();

    /// <summary>The part of the pending config that decides traffic from <paramref name="src"/>
    /// (null: untagged) to <paramref name="dst"/>: the groups on both ancestor chains and the
    /// rules between them (what explain needs), with the problems of those objects reported as
    /// a full read reports them. A store that cannot read less gives the whole config, which
    /// holds the same answer.</summary>
    PendingConfig ReadPendingPair(string? src, string dst) => ReadPending();

    /// <summary>Read-modify-write of the pending config, atomic against every other editor.
    /// With <paramref name="expectedDigest"/>, refused (<see cref="DigestConflictException"/>)
    /// unless the pending config still has it. Returns the digest after the edit (unchanged
    /// when the edit changed nothing, which writes nothing). Nothing stored yet: the edit starts
    /// from an empty config (the directory store needs its directory to exist).</summary>
    string EditPending(Func<PendingConfig, PolicyConfig> edit, string? expectedDigest = null);

    /// <summary>Validates the pending config and stores it as the next snapshot version. Marks
    /// it had to assign are written back to the pending config. Nothing is written when
    /// validation fails or the digest differs; an unchanged config keeps its version. An empty
    /// (or missing) pending config is refused unless <paramref name="allowEmpty"/>: its
    /// snapshot would un-enforce every NIC, so it must be asked for.</summary>
    CommitResult Commit(string? expectedDigest = null, bool allowEmpty = false);

    /// <summary>The committed snapshot, or null when nothing was committed yet.</summary>
    Snapshot? ReadRunning();

    /// <summary>The part of the committed snapshot that decides traffic from src to dst, as
    /// <see cref="ReadPendingPair"/> gives it of the pending config (default: the whole snapshot).</summary>
    Snapshot? ReadRunningPair(string? src, string dst) => ReadRunning();

    /// <summary>The snapshot now, then again each time it changes, until cancelled: what a
    /// resident agent follows.</summary>
    IAsyncEnumerable<RunningChange> WatchRunning(CancellationToken cancel);

    /// <summary>The API tokens as stored (the same instance while they are unchanged).</summary>
    IReadOnlyList<StoredToken> ReadTokens();

    /// <summary>Read-modify-write of the token records, atomic against other editors. The
    /// edit returns the new records, or null to write nothing.</summary>
    void EditTokens(Func<IReadOnlyList<StoredToken>, IReadOnlyList<StoredToken>?> edit);
}

public static class ConfigStoreEdits
{
    /// <summary><see cref="IConfigStore.EditPending"/> for edits that need only the config.</summary>
    public static string EditPending(this IConfigStore store, Func<PolicyConfig, PolicyConfig> edit, string? expectedDigest = null) =>
        store.EditPending(pending => edit(pending.Config), expectedDigest);
}
