// What the resident agent tells about each apply it runs (how long it took, whether it failed,
// which snapshot version is enforced after it), for whoever keeps figures of it: the Prometheus
// metrics of `microseg agent --metrics`.
namespace Microseg.Agent.Resident;

/// <summary>Full: a whole snapshot (start, commit, SIGHUP, a NIC gone). Plug: one guest NIC.</summary>
public enum ApplyKind { Full, Plug }

public interface IApplyObserver
{
    /// <param name="failed">The apply did not enforce everything: an invalid snapshot (nothing
    /// touched), or a subsystem or NIC that failed.</param>
    /// <param name="version">The snapshot version enforced after it (0: none yet).</param>
    void Applied(ApplyKind kind, TimeSpan duration, bool failed, long version);
}
