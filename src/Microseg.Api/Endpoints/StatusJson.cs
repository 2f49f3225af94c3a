// `GET .../status` and the apply part of `POST .../commit`: pending and running config, the
// last apply on this host, and the agent's status (as `microseg status --json` shows it).
using System.Text.Json;
using Microseg.Agent;
using Microseg.Policy;

namespace Microseg.Api.Endpoints;

internal static class StatusJson
{
    public static void WriteApply(Utf8JsonWriter w, ApplyReport r)
    {
        w.WriteStartObject();
        w.WriteBoolean("ok", r.Ok);
        w.WriteString("at", r.At);
        w.WriteNumber("version", r.Version);
        w.WriteString("node", r.Node);
        w.WriteString("error", r.Error);
        w.WriteString("programs", r.Load);
        WriteNics(w, "enforced", r.Enforced);
        WriteNics(w, "failed", r.Failed);
        w.WriteStartArray("subsystems");
        foreach (var s in r.Subsystems)
        {
            w.WriteStartObject();
            w.WriteString("name", s.Name);
            w.WriteString("summary", s.Summary);
            WriteStrings(w, "errors", s.Errors);
            WriteStrings(w, "warnings", s.Warnings);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteNics(Utf8JsonWriter w, string name, IReadOnlyList<NicOutcome> nics)
    {
        w.WriteStartArray(name);
        foreach (var n in nics)
        {
            w.WriteStartObject();
            w.WriteString("interface", n.Interface);
            w.WriteString("group", n.Group);
            if (n.Error is not null) w.WriteString("error", n.Error);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> items)
    {
        w.WriteStartArray(name);
        foreach (var item in items) w.WriteStringValue(item);
        w.WriteEndArray();
    }

    public static void Write(Utf8JsonWriter w, LocalAgent agent, PendingConfig pending, Snapshot? running, string? runningProblem,
        int changes, AgentStatus? status, string? statusError)
    {
        w.WriteStartObject();
        w.WriteString("node", agent.Options.Node);

        w.WriteStartObject("pending");
        w.WriteString("digest", pending.Digest);
        var counts = pending.Config.Objects.CountBy(o => o.Type).ToDictionary();
        foreach (var type in ObjectTypes.All) w.WriteNumber(type.Name() + "s", counts.GetValueOrDefault(type));
        w.WriteNumber("changes", changes);
        w.WriteEndObject();

        w.WriteStartObject("running");
        if (running is null) w.WriteNull("version"); else w.WriteNumber("version", running.Version);
        if (runningProblem is not null) w.WriteString("error", runningProblem);
        w.WriteEndObject();

        w.WritePropertyName("last_apply");
        if (agent.Last is { } last) WriteApply(w, last); else w.WriteNullValue();

        w.WriteStartObject("agent");
        if (status is null) w.WriteString("error", statusError);
        else
        {
            AgentStatusJson.WritePolicyFields(w, status);
            WriteStrings(w, "warnings", AgentStatusJson.AllWarnings(status));
        }
        w.WriteEndObject();

        w.WriteEndObject();
    }
}
