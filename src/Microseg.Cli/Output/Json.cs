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

    public static string Word(RuleAction action) => PolicyJson.Word(action);
}
