// The config directory: microseg.cfg (pending, digest-guarded) and running-config.json
// (the committed snapshot). Every write is atomic: temp file in the same directory, fsync,
// rename.
using System.Security.Cryptography;

namespace Microseg.Policy;

public sealed record PendingConfig(PolicyConfig Config, string Digest);

public sealed record CommitResult(Snapshot Snapshot, bool Changed, IReadOnlyList<Group> MarksAssigned, string PendingDigest);

public sealed class ConfigStore
{
    public const string PendingFileName = "microseg.cfg";
    public const string RunningFileName = "running-config.json";
    public const string DefaultDirectory = "/etc/microseg";

    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    public ConfigStore(string directory, string? runningPath = null)
    {
        Directory = directory;
        PendingPath = Path.Combine(directory, PendingFileName);
        RunningPath = runningPath ?? Path.Combine(directory, RunningFileName);
    }

    public string Directory { get; }
    public string PendingPath { get; }
    public string RunningPath { get; }

    public static string DigestOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The pending config and the digest of the bytes it was read from. A missing file
    /// is an empty config (with the digest of no bytes).</summary>
    public PendingConfig ReadPending()
    {
        var bytes = ReadAllOrEmpty(PendingPath);
        return new PendingConfig(SectionConfig.Parse(bytes, PendingPath), DigestOf(bytes));
    }

    /// <summary>Read-modify-write of the pending file under the directory lock. When
    /// <paramref name="expectedDigest"/> is given, the edit is refused unless the file still
    /// has it. Returns the new digest.</summary>
    public string EditPending(Func<PolicyConfig, PolicyConfig> edit, string? expectedDigest = null) =>
        EditPendingWithDigest(pending => edit(pending.Config), expectedDigest);

    /// <summary>As above, handing the edit the digest of the bytes it was read from (for callers
    /// that check several digests against one read, as the API's write batches do).</summary>
    public string EditPendingWithDigest(Func<PendingConfig, PolicyConfig> edit, string? expectedDigest = null)
    {
        using var _ = Lock();
        var bytes = ReadAllOrEmpty(PendingPath);
        var digest = DigestOf(bytes);
        if (expectedDigest is not null && !string.Equals(expectedDigest, digest, StringComparison.OrdinalIgnoreCase))
            throw new DigestConflictException(PendingPath, expectedDigest, digest);
        var edited = edit(new PendingConfig(SectionConfig.Parse(bytes, PendingPath), digest));
        var output = SectionConfig.WriteBytes(edited);
        if (output.AsSpan().SequenceEqual(bytes)) return digest;
        AtomicFile.Write(PendingPath, output);
        return DigestOf(output);
    }

    /// <summary>The committed snapshot, or null when nothing was committed yet.</summary>
    public Snapshot? ReadRunning()
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(RunningPath); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
        return SnapshotFormat.Read(bytes, RunningPath);
    }

    /// <summary>Validates the pending config and writes the snapshot. Marks it had to assign
    /// are written back to the pending file. Nothing is written when validation fails, or when
    /// <paramref name="expectedDigest"/> is given and the pending file no longer has it.</summary>
    public CommitResult Commit(string? expectedDigest = null)
    {
        using var _ = Lock();
        var bytes = ReadAllOrEmpty(PendingPath);
        var digest = DigestOf(bytes);
        if (expectedDigest is not null && !string.Equals(expectedDigest, digest, StringComparison.OrdinalIgnoreCase))
            throw new DigestConflictException(PendingPath, expectedDigest, digest);
        var parsed = SectionConfig.Parse(bytes, PendingPath);
        var (config, assigned) = Marks.AssignMissing(parsed);
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

    private static bool SameContent(Snapshot a, Snapshot b) =>
        SnapshotFormat.Write(a with { Version = 0 }).AsSpan().SequenceEqual(SnapshotFormat.Write(b with { Version = 0 }));

    private static byte[] ReadAllOrEmpty(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException) { return []; }
        catch (DirectoryNotFoundException) { return []; }
    }

    /// <summary>An exclusive lock on a lock file beside the config, so that read-modify-write
    /// sequences of several processes do not interleave.</summary>
    private IDisposable Lock() => FileLock.Exclusive(Path.Combine(Directory, ".microseg.cfg.lock"), LockTimeout);
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
