// What the policy maps hold, checked against a plan before the kernel is touched: a host over
// the bound fails its apply with the numbers and the limit, and the last good state stays
// enforced (no map half-written, no link moved).
using System.Globalization;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Policy;

/// <param name="MaxDestinations">Local destination groups: each costs at most
/// <see cref="VerdictWord.WordsPerDestination"/> verdict words, so this many always fit.</param>
/// <param name="MaxNics">Enforced NICs (nic_group entries).</param>
/// <param name="MaxServices">Service entries (one per destination, source and protocol that a
/// rule with a service names).</param>
/// <param name="MaxFlows">The flow table's size, set when the maps are created (an LRU map:
/// when full, the least recently used flows go, never the policy).</param>
public sealed record PolicyCapacity(int MaxDestinations, int MaxNics, int MaxServices = PolicyAbi.ServicesMaxEntries, int MaxFlows = PolicyAbi.FlowsMaxEntries)
{
    /// <summary>What the maps of abi.h hold.</summary>
    public static readonly PolicyCapacity Maps = new(PolicyAbi.VerdictsMaxDsts, PolicyAbi.NicGroupMaxEntries, PolicyAbi.ServicesMaxEntries, PolicyAbi.FlowsMaxEntries);

    /// <summary>Test-only: lower bounds, so that a test need not build 1,025 NICs to cross one.</summary>
    public const string MaxDestinationsVariable = "MICROSEG_TEST_POLICY_MAX_DSTS";
    public const string MaxNicsVariable = "MICROSEG_TEST_POLICY_MAX_NICS";
    public const string MaxServicesVariable = "MICROSEG_TEST_POLICY_MAX_SERVICES";

    /// <summary>Test-only: a smaller flow table, so that a test can fill it. Applies when the
    /// maps are created (first load or a schema migration); a pinned table keeps its size.</summary>
    public const string MaxFlowsVariable = "MICROSEG_TEST_POLICY_MAX_FLOWS";

    /// <summary>Verdict map entries: the worst case of <see cref="MaxDestinations"/> groups.</summary>
    public int MaxWords => MaxDestinations * VerdictWord.WordsPerDestination;

    /// <summary>The maps' bounds, lowered (never raised) by the test variables.</summary>
    public static PolicyCapacity FromEnvironment() => new(
        Lowered(MaxDestinationsVariable, Maps.MaxDestinations), Lowered(MaxNicsVariable, Maps.MaxNics),
        Lowered(MaxServicesVariable, Maps.MaxServices), Lowered(MaxFlowsVariable, Maps.MaxFlows));

    /// <summary>Throws when the plan needs more than the maps hold.</summary>
    public void Check(PolicyPlan plan)
    {
        if (plan.Destinations > MaxDestinations)
            throw new AgentException(
                $"this host needs {N(plan.Destinations)} local destination groups (up to {N((long)plan.Destinations * VerdictWord.WordsPerDestination)} verdict words); " +
                $"the verdict map holds {N(MaxDestinations)} ({N(MaxWords)} words): nothing changed, the last applied policy stays enforced");
        if (plan.Nics.Count > MaxNics)
            throw new AgentException(
                $"this host has {N(plan.Nics.Count)} NICs to enforce; the nic_group map holds {N(MaxNics)}: nothing changed, the last applied policy stays enforced");
        CheckServices(plan, "nothing changed, the last applied policy stays enforced");
    }

    /// <summary>Throws when a pair's rules name more port ranges for one protocol than a
    /// services entry holds, or the entries exceed the map; <paramref name="outcome"/> ends the message.</summary>
    public void CheckServices(PolicyPlan plan, string outcome)
    {
        foreach (var e in plan.Services)
            if (e.Ports.Count > PolicyAbi.ServiceMaxPorts)
                throw new AgentException(
                    $"the rules from {plan.GroupOf(e.Src)} to {plan.GroupOf(e.Dst)} name {e.Ports.Count} distinct {Service.ProtoName(e.Proto)} port ranges; " +
                    $"the services map holds {PolicyAbi.ServiceMaxPorts} per group pair and protocol (merge adjacent ports into ranges): {outcome}");
        if (plan.Services.Count > MaxServices)
            throw new AgentException(
                $"this host needs {N(plan.Services.Count)} service entries (group pair and protocol); the services map holds {N(MaxServices)}: {outcome}");
    }

    /// <summary>Throws when plugging <paramref name="nic"/> would leave the host with more
    /// local destination groups than the verdict map holds.</summary>
    public void CheckPlug(string nic, int destinations)
    {
        if (destinations > MaxDestinations)
            throw new AgentException(
                $"apply {nic}: this host would have {N(destinations)} local destination groups; the verdict map holds {N(MaxDestinations)} ({N(MaxWords)} words): " +
                "nothing changed, the NIC is not enforced");
    }

    /// <summary>The plug path's service entries (its group's only), checked before the first write.</summary>
    public void CheckPlugServices(string nic, PolicyPlan plan) => CheckServices(plan, $"apply {nic}: nothing changed, the NIC is not enforced");

    /// <summary>Writes come before removals (every packet sees a complete state), so for a moment
    /// a map holds its current entries and the new ones: throws when that exceeds its bound.</summary>
    public void CheckTransition(string map, int current, int added, int max)
    {
        if ((long)current + added > max)
            throw new AgentException(
                $"the sync needs {N(current + (long)added)} {map} entries at once ({N(current)} present, {N(added)} new, removals come last); " +
                $"the map holds {N(max)}: nothing changed, the last applied policy stays enforced; apply in two steps, removals first");
    }

    private static int Lowered(string variable, int bound) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } s ? Math.Min(bound, int.Parse(s, CultureInfo.InvariantCulture)) : bound;

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
