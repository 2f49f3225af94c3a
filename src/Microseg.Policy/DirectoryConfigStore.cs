// The config directory: microseg.cfg (pending, digest-guarded), running-config.json (the
// committed snapshot) and api-tokens.json (mode 0600). Every write is atomic: temp file in the
// same directory, fsync, rename; read-modify-writes hold a flock beside the files. The digest
// of the pending config is the SHA-256 of the file. Each file is parsed once per content: a
// read compares the bytes with the last ones and returns the same instance when they match.
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;

namespace Microseg.Policy;

public sealed class DirectoryConfigStore : IConfigStore
{
    public const string PendingFileName = "microseg.cfg";
    public const string RunningFileName = "running-config.json";
    public const string TokensFileName = "api-tokens.json";
    public const string DefaultDirectory = "/etc/microseg";

    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan TokensLockTimeout = TimeSpan.FromSeconds(10);

    /// <summary>One parsed version of a file: its bytes and what they parse to.</summary>
    private sealed record Parsed<T>(byte[] Bytes, T Value);

    private Parsed<PendingConfig>? pending;
    private Parsed<Snapshot>? running;
    // After a write, many readers see the new bytes at once: one parses, the others wait for it.
    private readonly object parseLock = new();

    private readonly object tokensLock = new();
    private (DateTime WriteTime, long Length, IReadOnlyList<StoredToken> Tokens)? tokens;

    public DirectoryConfigStore(string directory, string? runningPath = null)
    {
        Directory = directory;
        PendingPath = Path.Combine(directory, PendingFileName);
        RunningPath = runningPath ?? Path.Combine(directory, RunningFileName);
        TokensPath = Path.Combine(directory, TokensFileName);
    }

    public string Directory { get; }
    public string PendingPath { get; }
    public string RunningPath { get; }
    public string TokensPath { get; }

    public string Description => Directory;
    public string PendingLocation => PendingPath;
    public string RunningLocation => RunningPath;
    public string TokensLocation => TokensPath;

    /// <summary>How often <see cref="WatchRunning"/> looks at the snapshot even without a
    /// change notice (a cluster file system such as /etc/pve sends none).</summary>
    public TimeSpan WatchPollInterval { get; init; } = TimeSpan.FromSeconds(2);

    public static string DigestOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public string? DigestProblem(string digest) =>
        digest.Length == 64 && digest.All(Uri.IsHexDigit) ? null
        : "must be the 64 hex digits of a SHA-256 digest, as read from the pending config";

    /// <summary>A missing file is an empty config (with the digest of no bytes).</summary>
    public PendingConfig ReadPending() => Pending(ReadOrNull(PendingPath) ?? []).Value;

    public string EditPending(Func<PendingConfig, PolicyConfig> edit, string? expectedDigest = null)
    {
        using var _ = Lock();
        var read = Pending(ReadOrNull(PendingPath) ?? []);
        var digest = read.Value.Digest;
        EnsureDigest(expectedDigest, digest);
        var output = SectionConfig.WriteBytes(edit(read.Value));
        if (output.AsSpan().SequenceEqual(read.Bytes)) return digest;
        AtomicFile.Write(PendingPath, output);
        return DigestOf(output);
    }

    public Snapshot? ReadRunning() => Running()?.Value;

    public CommitResult Commit(string? expectedDigest = null)
    {
        using var _ = Lock();
        var read = Pending(ReadOrNull(PendingPath) ?? []);
        var digest = read.Value.Digest;
        EnsureDigest(expectedDigest, digest);
        var (config, assigned) = Marks.AssignMissing(read.Value.Config);
        Validation.Ensure(config);

        Snapshot? previous = null;
        try { previous = ReadRunning(); }
        catch (ConfigException) { /* a damaged snapshot is replaced; its version is lost */ }

        if (assigned.Count > 0)
        {
            var output = SectionConfig.WriteBytes(config);
            AtomicFile.Write(PendingPath, output);
            digest = DigestOf(output);
        }

        var previousVersion = previous?.Version ?? 0;
        var candidate = new Snapshot(previousVersion + 1, config);
        if (previous is not null && SameContent(previous, candidate))
            return new CommitResult(previous, Changed: false, assigned, digest);
        AtomicFile.Write(RunningPath, SnapshotFormat.Write(candidate));
        return new CommitResult(candidate, Changed: true, assigned, digest);
    }

    /// <summary>inotify on the snapshot's directory (a rename into place is one event), and a
    /// poll every <see cref="WatchPollInterval"/> for file systems without notices. A change is
    /// reported when the file's bytes differ from the last reported ones.</summary>
    public async IAsyncEnumerable<RunningChange> WatchRunning([EnumeratorCancellation] CancellationToken cancel)
    {
        var wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var watcher = NoticesFor(RunningPath, () => wake.Writer.TryWrite(true));
        byte[]? last = null;
        var first = true;
        while (!cancel.IsCancellationRequested)
        {
            var bytes = ReadOrNull(RunningPath);
            if (first || !SameBytes(last, bytes))
            {
                first = false;
                last = bytes;
                RunningChange change;
                try { change = new RunningChange(bytes is null ? null : Running(bytes).Value, null); }
                catch (ConfigException e) { change = new RunningChange(null, e); }
                yield return change;
            }
            try
            {
                using var poll = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                poll.CancelAfter(WatchPollInterval);
                await wake.Reader.ReadAsync(poll.Token);
            }
            catch (OperationCanceledException) { /* the poll interval passed, or the caller cancelled */ }
        }
    }

    private static bool SameBytes(byte[]? a, byte[]? b) =>
        a is null || b is null ? a is null && b is null : a.AsSpan().SequenceEqual(b);

    /// <summary>A watcher of the file's directory that calls <paramref name="changed"/> on any
    /// change there; null when the directory cannot be watched (then the poll alone serves).</summary>
    private static FileSystemWatcher? NoticesFor(string path, Action changed)
    {
        try
        {
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(Path.GetFullPath(path))!)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
            };
            FileSystemEventHandler handler = (_, _) => changed();
            watcher.Changed += handler;
            watcher.Created += handler;
            watcher.Deleted += handler;
            watcher.Renamed += (_, _) => changed();
            watcher.Error += (_, _) => changed();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is ArgumentException or IOException or PlatformNotSupportedException)
        {
            return null;
        }
    }

    // ---- tokens -----------------------------------------------------------------------------

    /// <summary>Re-read only when the file's time or length changed, so that `microseg token
    /// add|del` takes effect on a running server without a read per request.</summary>
    public IReadOnlyList<StoredToken> ReadTokens()
    {
        var info = new FileInfo(TokensPath);
        var stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1L);
        lock (tokensLock)
        {
            if (tokens is { } c && c.WriteTime == stamp.Item1 && c.Length == stamp.Item2) return c.Tokens;
            var list = LoadTokens();
            tokens = (stamp.Item1, stamp.Item2, list);
            return list;
        }
    }

    public void EditTokens(Func<IReadOnlyList<StoredToken>, IReadOnlyList<StoredToken>?> edit)
    {
        using var _ = FileLock.Exclusive(Path.Combine(Directory, ".api-tokens.lock"), TokensLockTimeout);
        if (edit(LoadTokens()) is { } edited) SaveTokens(edited);
    }

    private IReadOnlyList<StoredToken> LoadTokens()
    {
        if (ReadOrNull(TokensPath) is not { } bytes) return [];
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var list = new List<StoredToken>();
            foreach (var t in doc.RootElement.GetProperty("tokens").EnumerateArray())
            {
                var comment = t.TryGetProperty("comment", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                list.Add(new StoredToken(
                    t.GetProperty("id").GetString()!,
                    new ValueList<string>(t.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()!)),
                    t.GetProperty("created").GetDateTimeOffset(),
                    comment,
                    Convert.FromBase64String(t.GetProperty("salt").GetString()!),
                    Convert.FromBase64String(t.GetProperty("sha256").GetString()!)));
            }
            return list;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ConfigException(TokensPath, $"unreadable token file: {e.Message}");
        }
    }

    private void SaveTokens(IEnumerable<StoredToken> list)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            foreach (var t in list.OrderBy(t => t.Id, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                w.WriteString("id", t.Id);
                w.WriteStartArray("privileges");
                foreach (var p in t.Privileges) w.WriteStringValue(p);
                w.WriteEndArray();
                w.WriteString("created", t.Created);
                if (t.Comment is not null) w.WriteString("comment", t.Comment);
                w.WriteString("salt", Convert.ToBase64String(t.Salt));
                w.WriteString("sha256", Convert.ToBase64String(t.Sha256));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        AtomicFile.Write(TokensPath, buffer.ToArray(), AtomicFile.OwnerOnly);
    }

    // ---- shared -----------------------------------------------------------------------------

    private void EnsureDigest(string? expected, string actual)
    {
        if (expected is not null && !string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            throw new DigestConflictException(PendingPath, expected, actual);
    }

    private Parsed<PendingConfig> Pending(byte[] bytes) =>
        Current(ref pending, bytes, b => new PendingConfig(SectionConfig.Parse(b, PendingPath), DigestOf(b)));

    private Parsed<Snapshot>? Running() => ReadOrNull(RunningPath) is { } bytes ? Running(bytes) : null;

    private Parsed<Snapshot> Running(byte[] bytes) => Current(ref running, bytes, b => SnapshotFormat.Read(b, RunningPath));

    /// <summary>The cached entry when it was parsed from these bytes, else a new one, parsed once.</summary>
    private Parsed<T> Current<T>(ref Parsed<T>? slot, byte[] bytes, Func<byte[], T> parse)
    {
        if (Volatile.Read(ref slot) is { } e && bytes.AsSpan().SequenceEqual(e.Bytes)) return e;
        lock (parseLock)
        {
            if (slot is { } again && bytes.AsSpan().SequenceEqual(again.Bytes)) return again;
            var fresh = new Parsed<T>(bytes, parse(bytes));
            Volatile.Write(ref slot, fresh);
            return fresh;
        }
    }

    private static bool SameContent(Snapshot a, Snapshot b) =>
        SnapshotFormat.Write(a with { Version = 0 }).AsSpan().SequenceEqual(SnapshotFormat.Write(b with { Version = 0 }));

    /// <summary>The file's bytes; null when it does not exist.</summary>
    private static byte[]? ReadOrNull(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }

    /// <summary>An exclusive lock on a lock file beside the config, so that read-modify-write
    /// sequences of several processes do not interleave.</summary>
    private FileLock Lock() => FileLock.Exclusive(Path.Combine(Directory, ".microseg.cfg.lock"), LockTimeout);
}

public static class AtomicFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Writes a temp file in the same directory, fsyncs it, renames it over the target.
    /// Readers see the old or the new content, never a mix; a crash leaves the old file. With
    /// <paramref name="createMode"/> (e.g. <see cref="OwnerOnly"/> for secrets) the temp file is
    /// created with that mode, so the content is never readable by others, not even briefly.</summary>
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode? createMode = null)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (createMode is { } mode && !OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
            using (var fs = new FileStream(temp, options))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
