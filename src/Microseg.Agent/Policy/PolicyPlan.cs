// The desired kernel state of the policy subsystem on one host: which local NICs are enforced
// with which group, and the verdict entries their groups need. Pure: computed from the
// snapshot and the host's interface list.
using Microseg.Policy;

namespace Microseg.Agent.Policy;

/// <summary>An interface present on this host.</summary>
public sealed record LocalInterface(string Name, int IfIndex);

/// <summary>A local guest NIC that has an assignment, so policy is attached to it.</summary>
public sealed record EnforcedNic(string Name, int IfIndex, string AssignmentId, string Group, ushort Mark);

public sealed class PolicyPlan
{
    private readonly Lazy<IReadOnlyList<VerdictEntry>> verdicts;

    private PolicyPlan(IReadOnlyList<EnforcedNic> nics, Func<IReadOnlyList<VerdictEntry>> compile)
    {
        Nics = nics;
        verdicts = new Lazy<IReadOnlyList<VerdictEntry>>(compile);
    }

    /// <summary>Enforced NICs, ordered by name.</summary>
    public IReadOnlyList<EnforcedNic> Nics { get; }

    /// <summary>Allow entries for the destination groups of the enforced NICs (absent = deny);
    /// compiled on first use (status needs only the NICs).</summary>
    public IReadOnlyList<VerdictEntry> Verdicts => verdicts.Value;

    /// <summary>The whole host: every local guest NIC that has an assignment.</summary>
    public static PolicyPlan ForHost(PolicyConfig config, IEnumerable<LocalInterface> interfaces)
    {
        var engine = new PolicyEngine(config);
        var nics = new List<EnforcedNic>();
        foreach (var itf in interfaces.OrderBy(i => i.Name, StringComparer.Ordinal))
            if (Enforced(config, engine, itf) is { } nic) nics.Add(nic);
        return new PolicyPlan(nics, () => engine.Compile(nics.Select(n => n.Group)));
    }

    /// <summary>The plug path: one NIC and the verdict entries of its group only; null when the
    /// interface is not a guest NIC or has no assignment.</summary>
    public static PolicyPlan? ForInterface(PolicyConfig config, LocalInterface itf)
    {
        var engine = new PolicyEngine(config);
        return Enforced(config, engine, itf) is { } nic ? new PolicyPlan([nic], () => engine.Compile([nic.Group])) : null;
    }

    private static EnforcedNic? Enforced(PolicyConfig config, PolicyEngine engine, LocalInterface itf)
    {
        if (!GuestNic.TryParse(itf.Name, out var guest)) return null;
        if (!config.Assignments.TryGetValue(guest.AssignmentId, out var assignment)) return null;
        return new EnforcedNic(itf.Name, itf.IfIndex, assignment.Id, assignment.Group, engine.MarkOf(assignment.Group));
    }
}
