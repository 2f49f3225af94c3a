// Reads of the pending file and the snapshot for the API's GETs, parsed once per content. Each
// read still reads the file (writes replace it atomically, so a read sees one version or the
// next, and the CLI may have written it); only when its bytes differ from the last ones is it
// parsed, hashed and, for explain and matrix, resolved again. Under load this turns each read
// from a parse of the whole config into a copy and a compare.
using Microseg.Policy;

namespace Microseg.Api.Editing;

public sealed class ConfigCache(ConfigStore store)
{
    /// <summary>One parsed version of a file: its bytes, what they parse to, and the engine of
    /// that config, resolved on first use.</summary>
    private sealed class Entry<T>(byte[] bytes, T value, PolicyConfig config)
    {
        private readonly Lazy<PolicyEngine> engine = new(() => Resolve(config));

        public byte[] Bytes { get; } = bytes;
        public T Value { get; } = value;

        /// <summary>Throws the config's ConfigException each time it is asked, when it is invalid.</summary>
        public PolicyEngine Engine => engine.Value;
    }

    private Entry<PendingConfig>? pending;
    private Entry<Snapshot>? running;
    // After a write, many readers see the new bytes at once: one parses, the others wait for it.
    private readonly object parseLock = new();

    public PendingConfig ReadPending() => Pending().Value;

    /// <summary>The committed snapshot, or null when nothing was committed yet.</summary>
    public Snapshot? ReadRunning() => Running()?.Value;

    /// <summary>The engine of the pending config (marks a commit would assign included) or of
    /// the snapshot (null when nothing was committed); ConfigException when that config is invalid.</summary>
    public PolicyEngine? Engine(bool committed) => committed ? Running()?.Engine : Pending().Engine;

    // A missing pending file is an empty config, as ConfigStore reads it.
    private Entry<PendingConfig> Pending() =>
        Current(ref pending, ReadOrNull(store.PendingPath) ?? [], bytes =>
        {
            var config = SectionConfig.Parse(bytes, store.PendingPath);
            return (new PendingConfig(config, ConfigStore.DigestOf(bytes)), config);
        });

    private Entry<Snapshot>? Running()
    {
        if (ReadOrNull(store.RunningPath) is not { } bytes) return null;
        return Current(ref running, bytes, b =>
        {
            var snapshot = SnapshotFormat.Read(b, store.RunningPath);
            return (snapshot, snapshot.Config);
        });
    }

    /// <summary>The cached entry when it was parsed from these bytes, else a new one, parsed once.</summary>
    private Entry<T> Current<T>(ref Entry<T>? slot, byte[] bytes, Func<byte[], (T Value, PolicyConfig Config)> parse)
    {
        if (Volatile.Read(ref slot) is { } e && bytes.AsSpan().SequenceEqual(e.Bytes)) return e;
        lock (parseLock)
        {
            if (slot is { } again && bytes.AsSpan().SequenceEqual(again.Bytes)) return again;
            var (value, config) = parse(bytes);
            var fresh = new Entry<T>(bytes, value, config);
            Volatile.Write(ref slot, fresh);
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
    private static byte[]? ReadOrNull(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }
}
