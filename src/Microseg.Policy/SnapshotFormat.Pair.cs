// Reading only what one (source, destination) pair needs from the committed snapshot: one
// streaming pass notes where each object is and the few fields that link them (a group's
// parent, a rule's src and dst); the objects on the two ancestor chains and the rules between
// them are then read as a full read reads them. Any other shape (a Proxmox SDN running-config,
// a file that is not valid JSON) is read whole, which reports its problems.
using System.Text;
using System.Text.Json;

namespace Microseg.Policy;

public static partial class SnapshotFormat
{
    public static Snapshot ReadPair(byte[] json, string file, string? src, string dst)
    {
        if (Index(json) is not { } found) return Read(json, file);
        var (index, version) = found;
        // A snapshot of just those objects, cut from the file's own bytes, read the usual way.
        using var slice = new MemoryStream();
        slice.Write(Encoding.UTF8.GetBytes($"{{\"version\":{version},\"ids\":{{"));
        bool first = true;
        foreach (var (start, length) in index.Select(src, dst))
        {
            if (!first) slice.WriteByte((byte)',');
            first = false;
            slice.Write(json, start, length);
        }
        slice.Write("}}"u8);
        return Read(slice.ToArray(), file);
    }

    /// <summary>Each object of "ids": Start = the offset of its property name, Line = the
    /// length of "name": {...}. Null when the document is not a plain snapshot.</summary>
    private static (PairIndex Index, long Version)? Index(byte[] json)
    {
        try
        {
            var bom = json.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
            var reader = new Utf8JsonReader(json.AsSpan(bom), new JsonReaderOptions { MaxDepth = 16 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            var index = new PairIndex();
            long? version = null;
            bool ids = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (name == "version" && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var v)) { version = v; continue; }
                if (name != "ids" || reader.TokenType != JsonTokenType.StartObject || ids) return null;
                ids = true;
                var seen = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    int start = bom + (int)reader.TokenStartIndex;
                    var id = reader.GetString()!;
                    if (!seen.Add(id) || !reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
                    string? type = null, parent = null, ruleSrc = null, ruleDst = null;
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var field = reader.GetString();
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.String)
                            switch (field)
                            {
                                case "type": type = reader.GetString(); break;
                                case "parent": parent = reader.GetString(); break;
                                case "src": ruleSrc = reader.GetString(); break;
                                case "dst": ruleDst = reader.GetString(); break;
                            }
                        else reader.Skip();
                    }
                    int length = bom + (int)reader.BytesConsumed - start;
                    if (type == "group") index.Groups[id] = (start, length, parent);
                    else if (type == "rule") index.Rules.Add((start, length, ruleSrc, ruleDst));
                    else if (type is null || !ObjectTypes.TryParse(type, out _)) return null;
                }
            }
            if (reader.TokenType != JsonTokenType.EndObject || !ids || version is null) return null;
            while (reader.Read()) { /* trailing content makes the document invalid: throws */ }
            return (index, version.Value);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
