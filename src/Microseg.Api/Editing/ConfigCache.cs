// Reads of the pending file and the snapshot for the API's GETs, parsed once per content. Each
// read still reads the file (writes replace it atomically, so a read sees one version or the
// next, and the CLI may have written it); only when its bytes differ from the last ones is it
// parsed, hashed and, for explain and matrix, resolved again. Under load this turns each read
// from a parse of the whole config into a copy and a compare.
using Microseg.Policy;

namespace Microseg.Api.Editing;

public sealed class ConfigCache(ConfigStore store)
{
    private sealed class Entry(byte[] bytes, PolicyConfig config, string digest)
    {
        private readonly Lazy<PolicyEngine> engine = new(() => Resolve(config));

        public byte[] Bytes { get; } = bytes;
        public PolicyConfig Config { get; } = config;
        public string Digest { get; } = digest;
        public long Version { get; init; }

        /// <summary>Throws the config's ConfigException each time it is asked, when it is invalid.</summary>
        public PolicyEngine Engine => engine.Value;
    }

    private volatile Entry? pending;
    private volatile Entry? running;
    // After a write, many readers see the new bytes at once: one parses, the others wait for it.
    private readonly object parseLock = new();

    public ConfigStore Store => store;

    public PendingConfig ReadPending()
    {
        var e = Pending();
        return new PendingConfig(e.Config, e.Digest);
    }

    /// <summary>The committed snapshot, or null when nothing was committed yet.</summary>
    public Snapshot? ReadRunning() => Running() is { } e ? new Snapshot(e.Version, e.Config) : null;

    /// <summary>The engine of the pending config (marks a commit would assign included) or of
    /// the snapshot (null when nothing was committed); ConfigException when that config is invalid.</summary>
    public PolicyEngine? Engine(bool committed) => committed ? Running()?.Engine : Pending().Engine;

    private Entry Pending()
    {
        var bytes = ReadAllOrEmpty(store.PendingPath) ?? [];
        if (pending is { } e && bytes.AsSpan().SequenceEqual(e.Bytes)) return e;
        lock (parseLock)
        {
            if (pending is { } again && bytes.AsSpan().SequenceEqual(again.Bytes)) return again;
            var fresh = new Entry(bytes, SectionConfig.Parse(bytes, store.PendingPath), ConfigStore.DigestOf(bytes));
            pending = fresh;
            return fresh;
        }
    }

    private Entry? Running()
    {
        if (ReadAllOrEmpty(store.RunningPath) is not { } bytes) return null;
        if (running is { } e && bytes.AsSpan().SequenceEqual(e.Bytes)) return e;
        lock (parseLock)
        {
            if (running is { } again && bytes.AsSpan().SequenceEqual(again.Bytes)) return again;
            var snapshot = SnapshotFormat.Read(bytes, store.RunningPath);
            var fresh = new Entry(bytes, snapshot.Config, ConfigStore.DigestOf(bytes)) { Version = snapshot.Version };
            running = fresh;
            return fresh;
        }
    }

    private static PolicyEngine Resolve(PolicyConfig config)
    {
        (config, _) = Marks.AssignMissing(config);
        Validation.Ensure(config);
        return new PolicyEngine(config);
    }

    /// <summary>The file's bytes; null when it does not exist.</summary>
    private static byte[]? ReadAllOrEmpty(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }
}
