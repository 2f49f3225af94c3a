// The API token records as JSON ({"tokens": [...]}, secrets as salted SHA-256 only): one format
// for every store, so that a migration between stores copies the bytes' meaning exactly.
using System.Text.Json;

namespace Microseg.Policy;

public static class TokenFormat
{
    /// <summary>The records in <paramref name="bytes"/>; an error names <paramref name="where"/>.</summary>
    public static IReadOnlyList<StoredToken> Read(byte[] bytes, string where)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var list = new List<StoredToken>();
            foreach (var t in doc.RootElement.GetProperty("tokens").EnumerateArray())
            {
                var comment = t.TryGetProperty("comment", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                list.Add(new StoredToken(
                    t.GetProperty("id").GetString()!,
                    new ValueList<string>(t.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()!)),
                    t.GetProperty("created").GetDateTimeOffset(),
                    comment,
                    Convert.FromBase64String(t.GetProperty("salt").GetString()!),
                    Convert.FromBase64String(t.GetProperty("sha256").GetString()!)));
            }
            return list;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ConfigException(where, $"unreadable token file: {e.Message}");
        }
    }

    /// <summary>The records as JSON, sorted by id, with a final newline.</summary>
    public static byte[] Write(IEnumerable<StoredToken> list)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            foreach (var t in list.OrderBy(t => t.Id, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                w.WriteString("id", t.Id);
                w.WriteStartArray("privileges");
                foreach (var p in t.Privileges) w.WriteStringValue(p);
                w.WriteEndArray();
                w.WriteString("created", t.Created);
                if (t.Comment is not null) w.WriteString("comment", t.Comment);
                w.WriteString("salt", Convert.ToBase64String(t.Salt));
                w.WriteString("sha256", Convert.ToBase64String(t.Sha256));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }
}
