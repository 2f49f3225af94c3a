// Machine output: every read command's --json, written with Utf8JsonWriter.
using System.Text;
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Cli.Output;

public static class Json
{
    public static void Write(TextWriter w, Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            body(json);
        w.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

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

    public static string Word(RuleAction action) => action == RuleAction.Allow ? "allow" : "deny";
}
