// What each node's agent says about itself in a cluster store: the snapshot version it
// enforces and how its last apply went. The agent writes it through INodeStatusSink (the
// directory store has nowhere shared to put it: NoNodeStatus); `status --cluster` and the API
// read every node's through INodeStatusSource and compare with the committed version.
using System.Text.Json;

namespace Microseg.Agent.Resident;

/// <summary>One node's report. Version is the snapshot version it enforces (0: none yet);
/// Error is why its last step failed (an invalid snapshot, an unreachable store, a subsystem's
/// error), null when all is well. Seen is the newest version it was told of (it may be
/// newer than Version when that one could not be applied). DryRun: it plans, never touches
/// its kernel.</summary>
public sealed record NodeStatus(string Node, long Version, long Seen, string? Error, DateTimeOffset Updated, bool DryRun = false)
{
    public bool Ok => Error is null;

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("node", Node);
            w.WriteNumber("version", Version);
            w.WriteNumber("seen", Seen);
            if (Error is null) w.WriteNull("error");
            else w.WriteString("error", Error);
            w.WriteString("updated", Updated);
            w.WriteBoolean("dry_run", DryRun);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The record in <paramref name="json"/>, or null when it is not one (a stranger's key).</summary>
    public static NodeStatus? FromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var r = doc.RootElement;
            return new NodeStatus(
                r.GetProperty("node").GetString()!,
                r.GetProperty("version").GetInt64(),
                r.TryGetProperty("seen", out var seen) ? seen.GetInt64() : 0,
                r.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null,
                r.GetProperty("updated").GetDateTimeOffset(),
                r.TryGetProperty("dry_run", out var d) && d.ValueKind == JsonValueKind.True);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}

/// <summary>Where an agent publishes its <see cref="NodeStatus"/>. Report never throws and
/// never blocks on the network: a store that cannot take it now publishes it when it can.</summary>
public interface INodeStatusSink : IDisposable
{
    void Report(NodeStatus status);
}

/// <summary>The sink of a store with no shared place for node records (the config directory).</summary>
public sealed class NoNodeStatus : INodeStatusSink
{
    public static readonly NoNodeStatus Instance = new();

    public void Report(NodeStatus status) { }

    public void Dispose() { }
}

/// <summary>A store that keeps the node records of its cluster.</summary>
public interface INodeStatusSource
{
    /// <summary>A sink that publishes <paramref name="node"/>'s records while the agent lives
    /// (a record outlives its agent only briefly: it is bound to a lease the agent keeps).</summary>
    INodeStatusSink NodeStatusSink(string node);

    /// <summary>Every live node's record, by node name. Throws <see cref="Microseg.Policy.ConfigException"/>
    /// when the store cannot be reached.</summary>
    IReadOnlyList<NodeStatus> ReadNodes();
}
