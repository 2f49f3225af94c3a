// GET .../microseg/nodes: the cluster's convergence: the committed version, every node's
// report (the version it enforces, what went wrong last) and who lags. Only a store that keeps
// node records (etcd) has them; on the config directory the answer has no nodes and a summary
// that says what is needed. `microseg status --cluster --json` writes the same.
using System.Text.Json;
using Microseg.Agent.Resident;
using Microseg.Policy;
using Microsoft.AspNetCore.Http;

namespace Microseg.Api.Endpoints;

public static class ClusterNodes
{
    public const string NoNodeRecords = "the config store keeps no node records: cluster convergence needs a cluster store (--store etcd://HOST:PORT)";

    /// <summary>The convergence of <paramref name="store"/>'s nodes, or null when it keeps no
    /// node records. Throws ConfigException when the store cannot be reached or read.</summary>
    public static ClusterConvergence? Read(IConfigStore store) =>
        store is INodeStatusSource nodes
            ? ClusterConvergence.Of(store.ReadRunning()?.Version ?? 0, nodes.ReadNodes())
            : null;

    public static void Write(Utf8JsonWriter w, IConfigStore store, ClusterConvergence c, bool nodeRecords = true)
    {
        w.WriteStartObject();
        w.WriteString("store", store.Description);
        w.WriteNumber("node_records", nodeRecords ? 1 : 0);
        w.WriteNumber("committed", c.Committed);
        w.WriteString("summary", nodeRecords ? c.Summary : NoNodeRecords);
        w.WriteNumber("converged", c.Converged ? 1 : 0);
        w.WriteStartArray("nodes");
        foreach (var n in c.Nodes)
        {
            w.WriteStartObject();
            w.WriteString("node", n.Status.Node);
            w.WriteNumber("version", n.Status.Version);
            w.WriteNumber("seen", n.Status.Seen);
            w.WriteNumber("lagging", n.Lagging ? 1 : 0);
            if (n.Status.Error is { } e) w.WriteString("error", e);
            else w.WriteNull("error");
            w.WriteString("updated", n.Status.Updated);
            w.WriteNumber("dry_run", n.Status.DryRun ? 1 : 0);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    internal static async Task GetAsync(HttpContext ctx, IConfigStore store)
    {
        if (ctx.Request.Query.Count > 0)
            throw new ApiException(StatusCodes.Status400BadRequest, $"invalid request: this method takes no parameters (got {string.Join(", ", ctx.Request.Query.Keys)})");
        ClusterConvergence? read;
        long committed = 0;
        // The store is there to be asked, and is not answering: the service is unavailable.
        try
        {
            read = Read(store);
            if (read is null) committed = store.ReadRunning()?.Version ?? 0;
        }
        catch (ConfigException e) { throw new ApiException(StatusCodes.Status503ServiceUnavailable, e.Message); }
        await ApiJson.WriteAsync(ctx, w => Write(w, store, read ?? ClusterConvergence.Of(committed, []), nodeRecords: read is not null));
    }
}
