// `microseg status --cluster`: the committed version and what every node's agent reports
// ("3/3 nodes at version 7"), who lags and why. Exit 0 when every node enforces the committed
// version without error, 1 when some lag or report an error (scripts can wait on it).
using System.CommandLine;
using Microseg.Api.Endpoints;
using Microseg.Cli.Output;

namespace Microseg.Cli.Commands;

internal static class ClusterStatus
{
    public static readonly Option<bool> Option = new("--cluster")
    {
        Description = "The cluster's convergence from the store's node records (etcd): each node's enforced version, errors, who lags",
    };

    public static int Run(ParseResult parse, Io io, bool json)
    {
        var store = MicrosegRootCommand.Store(parse);
        var c = ClusterNodes.Read(store) ?? throw new UserException(ClusterNodes.NoNodeRecords);
        if (json)
        {
            Json.Write(io.Out, w => ClusterNodes.Write(w, store, c));
            return c.Converged ? ExitCodes.Ok : ExitCodes.Invalid;
        }
        io.Out.WriteLine($"store: {store.Description}");
        io.Out.WriteLine(c.Committed == 0 ? "committed: nothing yet" : $"committed: version {c.Committed}");
        io.Out.WriteLine(c.Summary);
        if (c.Nodes.Count > 0)
        {
            var table = new Table("NODE", "VERSION", "STATE", "UPDATED");
            foreach (var n in c.Nodes)
            {
                var state = n.Status.Error is { } e ? $"error: {e}"
                    : n.Lagging ? $"lagging (seen version {n.Status.Seen})"
                    : "ok";
                if (n.Status.DryRun) state += " (dry run)";
                table.Row(n.Status.Node, n.Status.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), state,
                    n.Status.Updated.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            }
            table.WriteTo(io.Out);
        }
        return c.Converged ? ExitCodes.Ok : ExitCodes.Invalid;
    }
}
