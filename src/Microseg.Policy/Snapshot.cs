// running-config.json, the committed snapshot (SPEC §3.2). Also reads a Proxmox SDN
// running-config whose "microseg" key holds the same object, and writes into one by replacing
// that key's value alone: the rest of the file is Proxmox's and stays byte for byte.
using System.Text;
using System.Text.Json;

namespace Microseg.Policy;

public sealed record Snapshot(long Version, PolicyConfig Config);

public static partial class SnapshotFormat
{
    /// <summary>The key of a Proxmox SDN running-config that holds our snapshot.</summary>
    public const string SdnKey = "microseg";

    public static byte[] Write(Snapshot snapshot) => Write(snapshot, indented: true);

    /// <summary>What to store at a snapshot's path that now holds <paramref name="existing"/>
    /// (null: nothing). A Proxmox SDN running-config (it has a "microseg" key, or keys of its
    /// own and no "ids") keeps every byte but the "microseg" value, which is replaced, or added
    /// at its end; anything else is replaced by the snapshot. A duplicate "microseg" key is an
    /// error naming the file (which of them would Proxmox read?).</summary>
    public static byte[] WriteInto(byte[]? existing, Snapshot snapshot, string file)
    {
        if (existing is null || SdnShape(existing) is not { } sdn) return Write(snapshot);
        var value = Write(snapshot, indented: false).AsSpan().TrimEnd((byte)'\n');
        if (sdn.ValueStart < 0)
        {
            // No "microseg" key yet: ,"microseg":{...} before the closing brace.
            byte[] added = [.. ","u8, .. Encoding.UTF8.GetBytes($"\"{JsonEncodedText.Encode(SdnKey)}\""), .. ":"u8, .. value];
            return [.. existing.AsSpan(0, sdn.ObjectEnd), .. added, .. existing.AsSpan(sdn.ObjectEnd)];
        }
        if (sdn.Duplicate) throw new ConfigException(file, $"the Proxmox SDN running-config has the key '{SdnKey}' twice: not written");
        return [.. existing.AsSpan(0, sdn.ValueStart), .. value, .. existing.AsSpan(sdn.ValueEnd)];
    }

    /// <summary>Where the "microseg" value of an SDN running-config stands (start -1: absent;
    /// then ObjectEnd is the offset of the root's closing brace), or null when the bytes are
    /// not an SDN running-config (not a JSON object, ours, or holding nothing but a version).</summary>
    private static (int ValueStart, int ValueEnd, int ObjectEnd, bool Duplicate)? SdnShape(byte[] json)
    {
        try
        {
            var bom = json.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0;
            var reader = new Utf8JsonReader(json.AsSpan(bom), new JsonReaderOptions { MaxDepth = 256 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            int start = -1, end = -1;
            bool duplicate = false, ids = false, foreign = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                var valueStart = bom + (int)reader.TokenStartIndex;
                reader.Skip();
                if (name == SdnKey)
                {
                    duplicate |= start >= 0;
                    start = valueStart;
                    end = bom + (int)reader.BytesConsumed;
                }
                else if (name == "ids") ids = true;
                else if (name != "version") foreign = true;
            }
            if (reader.TokenType != JsonTokenType.EndObject) return null;
            var objectEnd = bom + (int)reader.TokenStartIndex;
            while (reader.Read()) { /* trailing content makes the document invalid: throws */ }
            if (start < 0 && (ids || !foreign)) return null;
            return (start, end, objectEnd, duplicate);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static byte[] Write(Snapshot snapshot, bool indented)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", snapshot.Version);
            w.WriteStartObject("ids");
            foreach (var obj in snapshot.Config.Objects)
            {
                w.WritePropertyName(obj.Id);
                WriteObject(w, obj);
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>One object as the snapshot holds it: {"type", "id", fields...}.</summary>
    public static void WriteObject(Utf8JsonWriter w, IConfigObject obj)
    {
        w.WriteStartObject();
        WriteFields(w, obj);
        w.WriteEndObject();
    }

    /// <summary>The object's properties, into an object the caller has open (so that it can add its own).</summary>
    public static void WriteFields(Utf8JsonWriter w, IConfigObject obj)
    {
        w.WriteString("type", obj.Type.Name());
        w.WriteString("id", obj.Id);
        switch (obj)
        {
            case Group g:
                if (g.Mark is { } mark) w.WriteNumber("mark", mark);
                if (g.Parent is { } parent) w.WriteString("parent", parent);
                if (g.Stateful is { } stateful) w.WriteNumber("stateful", stateful ? 1 : 0);
                if (g.Infra is { } infra) w.WriteNumber("infra", infra ? 1 : 0);
                if (g.Audit is { } audit) w.WriteNumber("audit", audit ? 1 : 0);
                if (g.Comment is { } gc) w.WriteString("comment", gc);
                break;
            case Rule r:
                if (r.Src is { } src) w.WriteString("src", src);
                w.WriteString("dst", r.Dst);
                if (r.Service is { } service)
                {
                    w.WriteString("proto", Service.ProtoName(service.Proto));
                    if (service.Ports is { } ports) w.WriteString("dport", ports.ToString());
                }
                w.WriteString("action", r.Action == RuleAction.Allow ? "allow" : "deny");
                if (r.Comment is { } rc) w.WriteString("comment", rc);
                break;
            case Assignment a:
                w.WriteNumber("vmid", a.Vmid);
                w.WriteNumber("iface", a.Iface);
                w.WriteString("group", a.Group);
                break;
            case Bridge b:
                if (b.Nodes.Count > 0) WriteList(w, "nodes", b.Nodes);
                break;
            case Forwarder f:
                w.WriteString("router", f.Router);
                WriteList(w, "physical", f.Physical);
                w.WriteString("mode", SectionConfig.Word(f.Mode));
                if (f.Nodes.Count > 0) WriteList(w, "nodes", f.Nodes);
                break;
        }
    }

    private static void WriteList(Utf8JsonWriter w, string name, IEnumerable<string> items)
    {
        w.WriteStartArray(name);
        foreach (var item in items) w.WriteStringValue(item);
        w.WriteEndArray();
    }

    /// <summary>Reads a snapshot or a Proxmox SDN running-config. Structural errors name the
    /// file and the object id; semantic checks are <see cref="Validation"/>'s.</summary>
    public static Snapshot Read(byte[] json, string file)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new ConfigException(file + (e.LineNumber is { } l ? $":{l + 1}" : ""), $"not valid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ConfigException(file, "expected a JSON object");
            if (root.TryGetProperty(SdnKey, out var inner))
            {
                if (inner.ValueKind != JsonValueKind.Object)
                    throw new ConfigException(file, "the 'microseg' key of the SDN running-config is not an object");
                root = inner;
            }
            else if (!root.TryGetProperty("ids", out _) && root.EnumerateObject().Select(p => p.Name).Where(n => n != "version").ToList() is { Count: > 0 } keys)
                throw new ConfigException(file, $"a Proxmox SDN running-config without a '{SdnKey}' key (it has {string.Join(", ", keys.Take(8).Select(k => $"'{Text.Clip(k, 32)}'"))}): " +
                    "no microseg policy is committed there (run 'microseg commit --running-config FILE' to add one)");
            // An empty policy is an explicit, committed choice ("ids": {}), never what a
            // truncated or foreign file reads as: an apply of it would enforce nothing.
            if (!root.TryGetProperty("version", out _) || !root.TryGetProperty("ids", out _))
                throw new ConfigException(file, $"not a microseg snapshot: it has no {(root.TryGetProperty("version", out _) ? "'ids'" : "'version'")} " +
                    "(a truncated or foreign file? 'microseg commit' writes one; an empty policy is committed with --allow-empty)");
            try
            {
                return new Reader(file).Read(root);
            }
            catch (InvalidOperationException e)
            {
                // JsonElement throws this for text it cannot give as a .NET string (a lone surrogate escape).
                throw new ConfigException(file, $"unreadable JSON value: {e.Message}");
            }
        }
    }

    private sealed class Reader(string file)
    {
        private readonly List<ConfigProblem> problems = [];

        private void Error(string id, string message) =>
            problems.Add(new ConfigProblem(file, $"ids.{Text.Clip(id)}", message));

        public Snapshot Read(JsonElement root)
        {
            long version = 0;
            if (root.TryGetProperty("version", out var v) && (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out version)))
                problems.Add(new ConfigProblem(file, null, "'version' is not a whole number"));
            var objects = new List<IConfigObject>();
            if (root.TryGetProperty("ids", out var ids))
            {
                if (ids.ValueKind != JsonValueKind.Object)
                    problems.Add(new ConfigProblem(file, null, "'ids' is not an object"));
                else
                {
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    foreach (var prop in ids.EnumerateObject())
                    {
                        if (!seen.Add(prop.Name)) { Error(prop.Name, "id appears twice"); continue; }
                        if (ReadObject(prop.Name, prop.Value) is { } obj) objects.Add(obj);
                    }
                }
            }
            if (problems.Count > 0) throw new ConfigException(problems);
            var config = PolicyConfig.Create(
                objects.OfType<Group>(), objects.OfType<Rule>(), objects.OfType<Assignment>(),
                objects.OfType<Bridge>(), objects.OfType<Forwarder>());
            return new Snapshot(version, config.WithSource(new SourceInfo(file, new Dictionary<string, int>())));
        }

        private IConfigObject? ReadObject(string id, JsonElement e)
        {
            if (e.ValueKind != JsonValueKind.Object) { Error(id, "is not an object"); return null; }
            var before = problems.Count;
            string? Str(string key, bool required = false)
            {
                if (!e.TryGetProperty(key, out var p) || p.ValueKind == JsonValueKind.Null)
                {
                    if (required) Error(id, $"missing '{key}'");
                    return null;
                }
                if (p.ValueKind == JsonValueKind.String) return p.GetString();
                Error(id, $"'{key}' is not a string");
                return null;
            }
            long? Int(string key, bool required)
            {
                if (!e.TryGetProperty(key, out var p) || p.ValueKind == JsonValueKind.Null)
                {
                    if (required) Error(id, $"missing '{key}'");
                    return null;
                }
                if (p.ValueKind == JsonValueKind.Number && p.TryGetInt64(out var n) && n is >= int.MinValue and <= int.MaxValue) return n;
                // Proxmox writes some numbers as strings.
                if (p.ValueKind == JsonValueKind.String && long.TryParse(p.GetString(), out var s) && s is >= int.MinValue and <= int.MaxValue) return s;
                Error(id, $"'{key}' is not a whole number");
                return null;
            }
            // A Proxmox boolean: 1|0, true|false, or their strings.
            bool? Flag(string key)
            {
                if (!e.TryGetProperty(key, out var p) || p.ValueKind == JsonValueKind.Null) return null;
                if (p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var n) && n is 0 or 1) return n == 1;
                if (p.ValueKind is JsonValueKind.True or JsonValueKind.False) return p.GetBoolean();
                if (p.ValueKind == JsonValueKind.String && SectionConfig.TryParseFlag(p.GetString()!, out var b)) return b;
                Error(id, $"'{key}' is not 0 or 1");
                return null;
            }
            // A string, or a number written as one ("proto": 6 reads as "6").
            string? Word(string key)
            {
                if (e.TryGetProperty(key, out var p) && p.ValueKind == JsonValueKind.Number)
                    return p.TryGetInt64(out var n) ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : p.GetRawText();
                return Str(key);
            }
            ValueList<string>? List(string key, bool required)
            {
                if (!e.TryGetProperty(key, out var p) || p.ValueKind == JsonValueKind.Null)
                {
                    if (required) Error(id, $"missing '{key}'");
                    return null;
                }
                if (p.ValueKind == JsonValueKind.String)
                {
                    if (SectionConfig.TryParseList(p.GetString()!, out var parsed)) return parsed;
                }
                else if (p.ValueKind == JsonValueKind.Array && p.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String))
                    return new ValueList<string>(p.EnumerateArray().Select(x => x.GetString()!));
                Error(id, $"'{key}' is not a list of names");
                return null;
            }

            var typeName = Str("type", required: true);
            if (typeName is null) return null;
            if (!ObjectTypes.TryParse(typeName, out var type)) { Error(id, $"unknown type '{Text.Clip(typeName)}'"); return null; }
            if (Str("id") is { } innerId && innerId != id) Error(id, $"'id' is '{Text.Clip(innerId)}' but the key is '{Text.Clip(id)}'");

            IConfigObject? obj = null;
            switch (type)
            {
                case ObjectType.Group:
                    obj = new Group(id, (int?)Int("mark", required: false), Str("parent"), Str("comment"), Flag("stateful"), Flag("infra"), Flag("audit"));
                    break;
                case ObjectType.Rule:
                {
                    var dst = Str("dst", required: true);
                    RuleAction action = RuleAction.Deny;
                    var hasAction = e.TryGetProperty("action", out var a);
                    var hasAllow = e.TryGetProperty("allow", out var al);
                    if (hasAction && hasAllow) Error(id, "give either 'action' or 'allow', not both");
                    else if (hasAction)
                    {
                        if (a.ValueKind != JsonValueKind.String || !SectionConfig.TryParseAction(a.GetString()!, out action))
                            Error(id, "'action' is not \"allow\" or \"deny\"");
                    }
                    else if (hasAllow)
                    {
                        if (al.ValueKind == JsonValueKind.Number && al.TryGetInt32(out var n) && n is 0 or 1) action = (RuleAction)n;
                        else if (al.ValueKind is JsonValueKind.True or JsonValueKind.False) action = al.GetBoolean() ? RuleAction.Allow : RuleAction.Deny;
                        else if (al.ValueKind == JsonValueKind.String && al.GetString() is "0" or "1") action = al.GetString() == "1" ? RuleAction.Allow : RuleAction.Deny;
                        else Error(id, "'allow' is not 1 or 0");
                    }
                    else Error(id, "missing 'action'");
                    var (service, serviceProblems) = Service.Parse(Word("proto"), Word("dport"));
                    foreach (var (field, message) in serviceProblems) Error(id, $"'{field}': {message}");
                    if (dst is not null) obj = new Rule(id, Str("src"), dst, action, Str("comment"), service);
                    break;
                }
                case ObjectType.Assignment:
                {
                    var vmid = Int("vmid", required: true);
                    var iface = Int("iface", required: true);
                    var group = Str("group", required: true);
                    if (vmid is not null && iface is not null && group is not null)
                    {
                        var assignment = new Assignment(vmid.Value, iface.Value, group);
                        if (assignment.Id != id) Error(id, $"id must be '{assignment.Id}' (derived from vmid and iface)");
                        obj = assignment;
                    }
                    break;
                }
                case ObjectType.Bridge:
                    obj = new Bridge(id, List("nodes", required: false) ?? ValueList<string>.Empty);
                    break;
                case ObjectType.Forwarder:
                {
                    var router = Str("router", required: true);
                    var physical = List("physical", required: true);
                    var mode = ForwarderMode.Skb;
                    if (Str("mode") is { } m && !SectionConfig.TryParseMode(m, out mode))
                        Error(id, $"mode '{Text.Clip(m)}' is not 'skb' or 'native'");
                    var nodes = List("nodes", required: false) ?? ValueList<string>.Empty;
                    if (router is not null && physical is not null) obj = new Forwarder(id, router, physical, mode, nodes);
                    break;
                }
            }
            return problems.Count > before ? null : obj;
        }
    }
}
