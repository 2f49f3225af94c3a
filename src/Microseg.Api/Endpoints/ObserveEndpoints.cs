// GET .../stats (the policy counters of this host, as `microseg stats --json` has them) and
// GET .../drops (the newest drops the DropFeed keeps), for the web UI and scripts.
using System.Text.Json;
using Microseg.Agent;
using Microseg.Agent.Observe;
using Microseg.Api.Observe;
using Microsoft.AspNetCore.Http;

namespace Microseg.Api.Endpoints;

internal sealed class ObserveEndpoints(LocalAgent agent, DropFeed drops)
{
    public const int DefaultDropLimit = 50;

    /// <summary>`group` and `rule` (names, comma lists) keep the rows of those destination groups
    /// and deciding rules only: the web UI asks for what it shows.</summary>
    public async Task Stats(HttpContext ctx)
    {
        var fields = await RequestFields.ReadAsync(ctx.Request, ctx.RequestAborted);
        fields.RejectUnknown(["group", "rule"]);
        var groups = fields.List("group")?.ToHashSet(StringComparer.Ordinal);
        var rules = fields.List("rule")?.ToHashSet(StringComparer.Ordinal);
        fields.ThrowIfErrors("invalid stats request");
        PolicyStats stats;
        try { stats = PolicyCounters.Read(agent.Options); }
        catch (Exception e) when (AgentErrors.IsOperationFailure(e))
        {
            throw new ApiException(StatusCodes.Status500InternalServerError, $"counters of {agent.Options.Node}: {e.Message}");
        }
        var rows = stats.Rows.Where(r => (groups is null || groups.Contains(r.Group)) && (rules is null || r.Rule is { } id && rules.Contains(id)));
        await ApiJson.WriteAsync(ctx, w => PolicyStatsJson.Write(w, stats.Node, rows));
    }

    /// <summary>`limit` (1 to the ring's size, default 50). Beside "data": "monitor", whether the
    /// drops are being read and, when not, why.</summary>
    public async Task Drops(HttpContext ctx)
    {
        var fields = await RequestFields.ReadAsync(ctx.Request, ctx.RequestAborted);
        fields.RejectUnknown(["limit"]);
        var limit = fields.Integer("limit") ?? DefaultDropLimit;
        if (limit is < 1 or > DropFeed.Capacity) fields.Error("limit", $"must be 1 to {DropFeed.Capacity} (it is {limit})");
        fields.ThrowIfErrors("invalid drops request");
        var recent = drops.Recent((int)limit);
        await ApiJson.WriteAsync(ctx, w =>
        {
            w.WriteStartArray();
            foreach (var e in recent) VerdictEventJson.Write(w, e);
            w.WriteEndArray();
        }, w =>
        {
            w.WriteStartObject("monitor");
            w.WriteNumber("running", drops.Problem is null ? 1 : 0);
            if (drops.Problem is null) w.WriteNull("error"); else w.WriteString("error", drops.Problem);
            w.WriteNumber("total", drops.Total);
            w.WriteNumber("lost", drops.Lost);
            w.WriteEndObject();
        });
    }
}

/// <summary>The counters as JSON: `microseg stats --json` and GET .../stats alike.</summary>
public static class PolicyStatsJson
{
    public static void Write(Utf8JsonWriter w, string node, IEnumerable<CounterRow> rows)
    {
        w.WriteStartObject();
        w.WriteString("node", node);
        w.WriteStartArray("rows");
        foreach (var r in rows)
        {
            w.WriteStartObject();
            w.WriteString("kind", r.Kind);
            if (r.Rule is null) w.WriteNull("rule"); else w.WriteString("rule", r.Rule);
            w.WriteString("group", r.Group);
            w.WriteNumber("packets", r.Packets);
            w.WriteNumber("bytes", r.Bytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
