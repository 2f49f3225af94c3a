// What every subsystem has: a name, the object this build loads, its run state and lock, and
// the same way to clear itself. The policy, carrier and forwarder subsystems derive from it.
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Subsystems;

public abstract class Subsystem(string name, AgentOptions options, ILogger log, EmbeddedObject program) : ISubsystem
{
    public string Name { get; } = name;

    /// <summary>The object this build loads (embedded, or the test override).</summary>
    public EmbeddedObject Program { get; } = program;

    public RunState State { get; } = new(options.RunFor(name));

    protected AgentOptions Options { get; } = options;

    protected ILogger Log { get; } = log;

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

    /// <summary>A warning when the loaded programs are not this build's; null when they are.</summary>
    protected string? StaleWarning(string programs = "programs") => State.Fingerprint == Program.Fingerprint ? null :
        $"loaded {programs} ({Fingerprints.Short(State.Fingerprint) ?? "unknown"}) are not this build's ({Fingerprints.Short(Program.Fingerprint)}): the next apply upgrades them";

    public static void DeleteIfEmpty(string dir)
    {
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
    }
}

public static class Fingerprints
{
    /// <summary>The first 12 hex digits, as logs and status show a fingerprint (all of a shorter one).</summary>
    public static string? Short(string? fingerprint) => fingerprint?[..Math.Min(12, fingerprint.Length)];
}
