// The "report new allowed flows" switch of monitor_config, shared by every monitor of a host
// that asked for flows: the first one sets it, the last one to leave clears it. Each such
// monitor holds a shared flock on <run-dir>/policy/monitor-flows.lock for as long as it is open;
// one that leaves lets go of its share and clears the flag only if it can then take the lock
// exclusively (no other flows monitor holds a share). A monitor killed outright lets go of its
// share too (the kernel closes its descriptor); the flag it left set is cleared by the next
// flows monitor to leave, or by whoever calls ClearIfUnused.
using Microseg.Agent.Policy;
using Microseg.Policy;

namespace Microseg.Agent.Observe;

internal sealed class MonitorFlowsSwitch : IDisposable
{
    private readonly AgentOptions options;
    private FileLock? share;

    private MonitorFlowsSwitch(AgentOptions options, FileLock share)
    {
        this.options = options;
        this.share = share;
    }

    public static string LockPath(AgentOptions options) =>
        Path.Combine(options.RunFor(PolicySubsystem.SubsystemName), "monitor-flows.lock");

    /// <summary>Joins the monitors that want flows and sets the flag.</summary>
    /// <exception cref="AgentException">Nothing is loaded.</exception>
    public static MonitorFlowsSwitch TurnOn(AgentOptions options)
    {
        var path = LockPath(options);
        // Waits while a leaving monitor holds the lock exclusively to clear the flag, so that
        // the flag set below is never cleared by it.
        var share = FileLock.Shared(path, TimeSpan.FromSeconds(10));
        try
        {
            MonitorSettings.SetFlows(options, on: true);
            return new MonitorFlowsSwitch(options, share);
        }
        catch
        {
            share.Dispose();
            throw;
        }
    }

    /// <summary>Clears the flag when no monitor holds a share; true when it was cleared.</summary>
    public static bool ClearIfUnused(AgentOptions options)
    {
        FileLock alone;
        try { alone = FileLock.Exclusive(LockPath(options), TimeSpan.Zero); }
        catch (TimeoutException) { return false; } // another flows monitor is open: it keeps the flag
        using (alone)
        {
            try { MonitorSettings.SetFlows(options, on: false); }
            catch (AgentException) { return false; } // unloaded meanwhile: nothing to clear
            return true;
        }
    }

    /// <summary>Leaves; the last monitor to leave clears the flag.</summary>
    public void Dispose()
    {
        var held = Interlocked.Exchange(ref share, null);
        if (held is null) return;
        held.Dispose();
        ClearIfUnused(options);
    }
}
