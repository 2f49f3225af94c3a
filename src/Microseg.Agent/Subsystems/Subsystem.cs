// What every subsystem has: a name, the object this build loads, its run state and lock, the
// same start to every load, and the same way to clear itself. The policy, carrier and forwarder
// subsystems derive from it.
using Microseg.Bpf;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Subsystems;

public abstract partial class Subsystem(string name, AgentOptions options, ILogger log, EmbeddedObject program) : ISubsystem
{
    public string Name { get; } = name;

    /// <summary>The object this build loads (embedded, or the test override).</summary>
    public EmbeddedObject Program { get; } = program;

    public RunState State { get; } = new(options.RunFor(name));

    protected AgentOptions Options { get; } = options;

    protected ILogger Log { get; } = log;

    /// <summary>True when this build's programs are pinned and the maps have its schema.</summary>
    public bool IsCurrent => Pinned && State.Fingerprint == Program.Fingerprint && State.Schema == Program.Schema;

    /// <summary>Every program and map of the subsystem has its pin.</summary>
    protected abstract bool Pinned { get; }

    public abstract SubsystemReport Apply(HostState host);

    public abstract SubsystemReport? Plug(HostState host, string name);

    public abstract SubsystemStatus? Status(HostState host);

    /// <summary>Under the exclusive lock: detaches everything and removes every pin and the run
    /// state; then the lock file and the subsystem's directories go.</summary>
    public int Clear()
    {
        int links;
        using (SubsystemLock.Exclusive(State.LockPath))
        {
            links = Remove();
            State.Forget();
            File.Delete(State.LockPath);
        }
        DeleteIfEmpty(State.Directory);
        DeleteIfEmpty(Options.BpffsFor(Name));
        return links;
    }

    /// <summary>Detaches every link and unpins everything; returns the links detached.</summary>
    protected abstract int Remove();

    /// <summary>Mounts bpffs and makes the pin directories; true when this build's programs are
    /// pinned already, so they are reused (a normal run never runs the verifier).</summary>
    protected bool ReadyToLoad(params string[] directories)
    {
        Bpffs.EnsureMounted(Options.BpffsMountPoint());
        foreach (var dir in directories) Bpffs.CreateDirectory(dir);
        if (!IsCurrent) return false;
        LogReused(Log, Name, Fingerprints.Short(Program.Fingerprint)!);
        return true;
    }

    /// <summary>Records this build's programs as the ones loaded.</summary>
    protected void RecordLoaded(bool fresh)
    {
        State.Record(Program.Fingerprint, Program.Schema);
        if (fresh) LogLoaded(Log, Name, Program.Source, Fingerprints.Short(Program.Fingerprint)!, Program.Schema);
    }

    /// <summary>A warning when the loaded programs are not this build's; null when they are.</summary>
    protected string? StaleWarning(string programs = "programs") => State.Fingerprint == Program.Fingerprint ? null :
        $"loaded {programs} ({Fingerprints.Short(State.Fingerprint) ?? "unknown"}) are not this build's ({Fingerprints.Short(Program.Fingerprint)}): the next apply upgrades them";

    public static void DeleteIfEmpty(string dir)
    {
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Subsystem} programs reused from pins (fingerprint {Fingerprint})")]
    private static partial void LogReused(ILogger log, string subsystem, string fingerprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Subsystem} programs loaded from {Source} (fingerprint {Fingerprint}, schema {Schema})")]
    private static partial void LogLoaded(ILogger log, string subsystem, string source, string fingerprint, int schema);
}

public static class Fingerprints
{
    /// <summary>The first 12 hex digits, as logs and status show a fingerprint (all of a shorter one).</summary>
    public static string? Short(string? fingerprint) => fingerprint?[..Math.Min(12, fingerprint.Length)];
}
