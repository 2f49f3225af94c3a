// "3/3 nodes at version 7": the committed version against what every node reports, and who
// lags and why. One summary for `microseg status --cluster` and the API.
namespace Microseg.Agent.Resident;

/// <summary>A node compared with the committed version: Lagging when it enforces an older one.</summary>
public sealed record NodeConvergence(NodeStatus Status, bool Lagging);

public sealed record ClusterConvergence(long Committed, IReadOnlyList<NodeConvergence> Nodes)
{
    public int AtCommitted => Nodes.Count(n => !n.Lagging);

    public bool Converged => Nodes.Count > 0 && Nodes.All(n => !n.Lagging && n.Status.Ok);

    /// <summary>"3/3 nodes at version 7" (or "no node reports: ..." when none does).</summary>
    public string Summary => Nodes.Count == 0
        ? $"no node reports (committed version {Committed}): no agent runs against this store"
        : $"{AtCommitted}/{Nodes.Count} node{(Nodes.Count == 1 ? "" : "s")} at version {Committed}";

    public static ClusterConvergence Of(long committed, IEnumerable<NodeStatus> nodes) =>
        new(committed, [.. nodes.OrderBy(n => n.Node, StringComparer.Ordinal).Select(n => new NodeConvergence(n, n.Version < committed))]);
}
