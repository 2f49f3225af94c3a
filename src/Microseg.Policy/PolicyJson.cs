// The JSON of resolution results, shared by `microseg explain|matrix --json` and the API, so the
// two can never disagree on shape.
using System.Text.Json;

namespace Microseg.Policy;

public static class PolicyJson
{
    public static string Word(RuleAction action) => action == RuleAction.Allow ? "allow" : "deny";

    /// <summary>{"src", "dst", "verdict", "rule" (id or null), "reason", "candidates": [...]}.</summary>
    public static void WriteExplanation(Utf8JsonWriter w, Explanation e)
    {
        w.WriteStartObject();
        w.WriteString("src", e.Src ?? Names.Untagged);
        w.WriteString("dst", e.Dst);
        w.WriteString("verdict", Word(e.Verdict));
        if (e.Rule is null) w.WriteNull("rule"); else w.WriteString("rule", e.Rule.Id);
        w.WriteString("reason", e.Reason);
        w.WriteStartArray("candidates");
        foreach (var c in e.Candidates)
        {
            w.WriteStartObject();
            w.WriteString("rule", c.Rule.Id);
            if (c.Rule.Src is null) w.WriteNull("src"); else w.WriteString("src", c.Rule.Src);
            w.WriteString("dst", c.Rule.Dst);
            w.WriteString("action", Word(c.Rule.Action));
            w.WriteNumber("dst_distance", c.DstDistance);
            w.WriteNumber("src_distance", c.SrcDistance);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>{"groups": [...], "matrix": [{"src", "dst", "verdict", "rule"}, ...]}, untagged first.</summary>
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
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
