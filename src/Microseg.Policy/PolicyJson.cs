// The JSON of resolution results, shared by `microseg explain|matrix --json` and the API, so the
// two can never disagree on shape.
using System.Text.Json;

namespace Microseg.Policy;

public static class PolicyJson
{
    public static string Word(RuleAction action) => action == RuleAction.Allow ? "allow" : "deny";

    /// <summary>{"src", "dst", ["proto", "dport" when asked for a packet], "verdict", "rule" (id
    /// or null), "reason", "depends_on_service" (0|1), "per_service": [{"proto", "dport"
    /// (absent: the protocol's other packets), "verdict", "rule"}], "candidates": [...]}.</summary>
    public static void WriteExplanation(Utf8JsonWriter w, Explanation e)
    {
        w.WriteStartObject();
        w.WriteString("src", e.Src ?? Names.Untagged);
        w.WriteString("dst", e.Dst);
        if (e.Packet is { } packet)
        {
            w.WriteString("proto", Service.ProtoName(packet.Proto));
            if (packet.Port is { } port) w.WriteNumber("dport", port);
        }
        w.WriteString("verdict", Word(e.Verdict));
        if (e.Rule is null) w.WriteNull("rule"); else w.WriteString("rule", e.Rule.Id);
        w.WriteString("reason", e.Reason);
        w.WriteNumber("depends_on_service", e.DependsOnService ? 1 : 0);
        WritePerService(w, e);
        w.WriteStartArray("candidates");
        foreach (var c in e.Candidates)
        {
            w.WriteStartObject();
            w.WriteString("rule", c.Rule.Id);
            if (c.Rule.Src is null) w.WriteNull("src"); else w.WriteString("src", c.Rule.Src);
            w.WriteString("dst", c.Rule.Dst);
            if (c.Rule.Service is { } service) WriteService(w, service);
            w.WriteString("action", Word(c.Rule.Action));
            w.WriteNumber("dst_distance", c.DstDistance);
            w.WriteNumber("src_distance", c.SrcDistance);
            w.WriteNumber("specificity", c.Specificity);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WritePerService(Utf8JsonWriter w, Explanation e)
    {
        w.WriteStartArray("per_service");
        foreach (var v in e.PerService)
        {
            w.WriteStartObject();
            WriteService(w, v.Service);
            w.WriteString("verdict", Word(v.Verdict));
            if (v.Rule is null) w.WriteNull("rule"); else w.WriteString("rule", v.Rule.Id);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>"proto" (a name, or the number as a string) and "dport" when it has ports, as
    /// the snapshot writes a rule's service.</summary>
    public static void WriteService(Utf8JsonWriter w, Service service)
    {
        w.WriteString("proto", Service.ProtoName(service.Proto));
        if (service.Ports is { } ports) w.WriteString("dport", ports.ToString());
    }

    /// <summary>{"groups": [...], "matrix": [{"src", "dst", "verdict", "rule", "partial" (0|1:
    /// the verdict depends on the service; then "per_service" as explain gives it)}, ...]},
    /// untagged first. The verdict is that of packets no service rule matches.</summary>
    public static void WriteMatrix(Utf8JsonWriter w, PolicyEngine engine)
    {
        w.WriteStartObject();
        w.WriteStartArray("groups");
        foreach (var g in engine.Groups) w.WriteStringValue(g);
        w.WriteEndArray();
        w.WriteStartArray("matrix");
        foreach (var e in engine.Matrix())
        {
            w.WriteStartObject();
            w.WriteString("src", e.Src ?? Names.Untagged);
            w.WriteString("dst", e.Dst);
            w.WriteString("verdict", Word(e.Verdict));
            if (e.Rule is null) w.WriteNull("rule"); else w.WriteString("rule", e.Rule.Id);
            w.WriteNumber("partial", e.DependsOnService ? 1 : 0);
            if (e.DependsOnService) WritePerService(w, e);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
