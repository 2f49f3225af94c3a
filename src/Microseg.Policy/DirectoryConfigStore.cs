// The config directory: microseg.cfg (pending, digest-guarded), running-config.json (the
// committed snapshot) and api-tokens.json (mode 0600). Every write is atomic: temp file in the
// same directory, fsync, rename, fsync of the directory; read-modify-writes hold a flock beside
// the files. The digest of the pending config is the SHA-256 of the file. Each file is parsed
// once per content: a read compares the bytes with the last ones and returns the same instance
// when they match. The store never creates the config directory: a missing one is nearly always
// a typo in --config-dir, and an edit or a commit there must not start a new, empty policy.
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
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

    /// <summary>A missing file is an empty config (with the digest of no bytes), Exists false.</summary>
    public PendingConfig ReadPending() => ReadPendingFile().Value;

    /// <summary>Parses only the two chains and the rules between them (the cached full parse
    /// when these bytes were parsed already).</summary>
    public PendingConfig ReadPendingPair(string? src, string dst)
    {
        if (ReadOrNull(PendingPath) is not { } bytes) return Missing.Value;
        if (Volatile.Read(ref pending) is { } e && bytes.AsSpan().SequenceEqual(e.Bytes)) return e.Value;
        return new PendingConfig(SectionConfig.ParsePair(bytes, PendingPath, src, dst), DigestOf(bytes));
    }

    private Parsed<PendingConfig> ReadPendingFile() =>
        ReadOrNull(PendingPath) is { } bytes ? Pending(bytes) : Missing;

    private Parsed<PendingConfig> Missing => new([], new PendingConfig(PolicyConfig.Empty, DigestOf([]), Exists: false));

    public string EditPending(Func<PendingConfig, PolicyConfig> edit, string? expectedDigest = null)
    {
        using var _ = Lock();
        var read = ReadPendingFile();
        var digest = read.Value.Digest;
        EnsureDigest(expectedDigest, digest);
        var output = SectionConfig.WriteBytes(edit(read.Value));
        if (read.Value.Exists && output.AsSpan().SequenceEqual(read.Bytes)) return digest;
        AtomicFile.Write(PendingPath, output);
        return DigestOf(output);
    }

    public Snapshot? ReadRunning() => Running()?.Value;

    public Snapshot? ReadRunningPair(string? src, string dst)
    {
        if (ReadOrNull(RunningPath) is not { } bytes) return null;
        if (Volatile.Read(ref running) is { } e && bytes.AsSpan().SequenceEqual(e.Bytes)) return e.Value;
        return SnapshotFormat.ReadPair(bytes, RunningPath, src, dst);
    }

    public CommitResult Commit(string? expectedDigest = null, bool allowEmpty = false)
    {
        using var _ = Lock();
        var read = ReadPendingFile();
        var digest = read.Value.Digest;
        EnsureDigest(expectedDigest, digest);
        if (!allowEmpty && read.Value.Config.Count == 0)
            throw new ConfigException(PendingPath, (read.Value.Exists ? "the pending config is empty" : "does not exist") +
                ": refusing to commit an empty policy, which would stop enforcing every NIC (commit with --allow-empty if that is what you want)");
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
        // Into a Proxmox SDN running-config, only its "microseg" key changes.
        AtomicFile.Write(RunningPath, SnapshotFormat.WriteInto(ReadOrNull(RunningPath), candidate, RunningPath));
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

    private IReadOnlyList<StoredToken> LoadTokens() =>
        ReadOrNull(TokensPath) is { } bytes ? TokenFormat.Read(bytes, TokensPath) : [];

    private void SaveTokens(IEnumerable<StoredToken> list) =>
        AtomicFile.Write(TokensPath, TokenFormat.Write(list), AtomicFile.OwnerOnly);

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
    /// sequences of several processes do not interleave. Under it, the temp files that
    /// interrupted writers of the pending config or the snapshot left are removed.</summary>
    private FileLock Lock()
    {
        if (!System.IO.Directory.Exists(Directory))
            throw new ConfigException(Directory, "the config directory does not exist (check --config-dir or MICROSEG_CONFIG_DIR; create it with 'mkdir -p' to start a new config there)");
        var held = FileLock.Exclusive(Path.Combine(Directory, ".microseg.cfg.lock"), LockTimeout);
        AtomicFile.RemoveStaleTemps(PendingPath);
        AtomicFile.RemoveStaleTemps(RunningPath);
        return held;
    }
}

public static class AtomicFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The mode of a file this class creates (the umask may only make it stricter):
    /// configuration is not for everyone to read, let alone write.</summary>
    public const UnixFileMode NewFileMode = OwnerOnly | UnixFileMode.GroupRead;

    /// <summary>A temp file younger than this may still be written by a live process.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(5);

    private const string TempSuffix = ".tmp";

    /// <summary>Writes a temp file in the same directory, fsyncs it, renames it over the target
    /// and fsyncs the directory (so that the rename survives a power cut). Readers see the old
    /// or the new content, never a mix; a crash leaves the old file. An existing target keeps
    /// its mode, owner and group; a new one gets <see cref="NewFileMode"/>, whatever the umask.
    /// With <paramref name="createMode"/> (e.g. <see cref="OwnerOnly"/> for secrets) the file
    /// always has that mode, and so has the temp file from its creation: the content is never
    /// readable by others, not even briefly.</summary>
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode? createMode = null)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("microseg's config files are Linux files (modes, owners, fsync of a directory)");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}{TempSuffix}");
        var existing = Interop.Libc.OwnerAndMode(path);
        try
        {
            // Owner-only while it is written: its final mode may be wider, never the other way.
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, UnixCreateMode = OwnerOnly };
            using (var fs = new FileStream(temp, options))
            {
                fs.Write(content);
                if (existing is { } owner) Interop.Libc.KeepOwner(fs.SafeFileHandle, temp, owner.Uid, owner.Gid);
                // Not masked by the umask, unlike the mode given to open().
                File.SetUnixFileMode(fs.SafeFileHandle, createMode ?? (existing is { } e ? e.Mode : NewFileMode & ~Umask()));
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        Interop.Libc.SyncDirectory(dir);
    }

    /// <summary>Removes the temp files of <paramref name="path"/> that interrupted writers left:
    /// those whose writer (the process id in the name) is gone, or older than
    /// <see cref="StaleAfter"/>. Call it holding the lock that every writer of the path holds.</summary>
    public static void RemoveStaleTemps(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var prefix = $".{Path.GetFileName(path)}.";
        IEnumerable<string> temps;
        try { temps = Directory.EnumerateFiles(dir, prefix + "*" + TempSuffix).ToList(); }
        catch (DirectoryNotFoundException) { return; }
        foreach (var temp in temps)
        {
            // .NAME.PID.GUID.tmp, exactly: nothing else is ours to remove.
            var middle = Path.GetFileName(temp)[prefix.Length..^TempSuffix.Length].Split('.');
            if (middle.Length != 2 || !int.TryParse(middle[0], out var pid) || pid <= 0
                || middle[1].Length != 32 || !middle[1].All(Uri.IsHexDigit)) continue;
            var writerGone = pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");
            if (!writerGone && DateTime.UtcNow - File.GetLastWriteTimeUtc(temp) < StaleAfter) continue;
            try { File.Delete(temp); }
            catch (IOException) { /* gone already, or busy: the next write tries again */ }
        }
    }

    /// <summary>The process's umask (read without changing it, from /proc; 022 when unknown).</summary>
    private static UnixFileMode Umask()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                    return (UnixFileMode)Convert.ToInt32(line["Umask:".Length..].Trim(), 8);
        }
        catch (IOException) { }
        return UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
    }
}
