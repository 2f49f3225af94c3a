// The Proxmox "section config" text format of microseg.cfg: parse with file:line errors,
// write in one canonical form (types in order, ids sorted, fixed key order) so that an
// unchanged model is written byte-identically.
using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Microseg.Policy;

public static partial class SectionConfig
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly Dictionary<ObjectType, string[]> Keys = new()
    {
        [ObjectType.Group] = ["mark", "parent", "stateful", "infra", "audit", "comment"],
        [ObjectType.Rule] = ["src", "dst", "proto", "dport", "action", "allow", "comment"],
        [ObjectType.Assignment] = ["vmid", "iface", "group"],
        [ObjectType.Bridge] = ["nodes"],
        [ObjectType.Forwarder] = ["router", "physical", "mode", "nodes"],
    };

    public static PolicyConfig Parse(byte[] bytes, string file)
    {
        var span = bytes.AsSpan();
        if (span.StartsWith("\uFEFF"u8)) span = span[3..]; // a BOM some editors write
        string text;
        try { text = StrictUtf8.GetString(span); }
        catch (DecoderFallbackException e)
        {
            var line = 1 + span[..Math.Clamp(e.Index, 0, span.Length)].Count((byte)'\n');
            throw new ConfigException($"{file}:{line}", $"not valid UTF-8 text (bad byte at offset {e.Index})");
        }
        return Parse(text, file);
    }

    public static PolicyConfig Parse(string text, string file) => new Parser(file).Run(text);

    public static byte[] WriteBytes(PolicyConfig config) => StrictUtf8.GetBytes(Write(config));

    public static string Write(PolicyConfig config)
    {
        var sb = new StringBuilder();
        foreach (var obj in config.Objects)
        {
            if (sb.Length > 0) sb.Append('\n');
            if (config.Comments.TryGetValue(SourceInfo.Key(obj.Type, obj.Id), out var comments))
                foreach (var c in comments) sb.Append(c).Append('\n');
            // The last guard against a value that would start a line (or a section) of its own:
            // editors and the parser refuse these earlier, with the field named.
            if (Names.ControlProblem("id", obj.Id) is { } idProblem) throw Unwritable(obj, null, idProblem);
            sb.Append(obj.Type.Name()).Append(": ").Append(obj.Id).Append('\n');
            foreach (var (key, value) in Properties(obj))
            {
                if (Names.ControlProblem(key, value) is { } problem) throw Unwritable(obj, key, problem);
                sb.Append('\t').Append(key).Append(' ').Append(value).Append('\n');
            }
        }
        if (!config.TrailingComments.IsEmpty)
        {
            if (sb.Length > 0) sb.Append('\n');
            foreach (var c in config.TrailingComments) sb.Append(c).Append('\n');
        }
        return sb.ToString();
    }

    private static ConfigException Unwritable(IConfigObject obj, string? field, string message) =>
        new([new ConfigProblem("", ConfigProblem.Describe(obj.Type, obj.Id), message, field)]);

    /// <summary>The object's properties as the file writes them (key, value), in order.</summary>
    internal static IEnumerable<(string Key, string Value)> Properties(IConfigObject obj)
    {
        switch (obj)
        {
            case Group g:
                if (g.Mark is { } mark) yield return ("mark", mark.ToString(CultureInfo.InvariantCulture));
                if (g.Parent is { } parent) yield return ("parent", parent);
                if (g.Stateful is { } stateful) yield return ("stateful", Flag(stateful));
                if (g.Infra is { } infra) yield return ("infra", Flag(infra));
                if (g.Audit is { } audit) yield return ("audit", Flag(audit));
                if (g.Comment is { Length: > 0 } comment) yield return ("comment", comment);
                break;
            case Rule r:
                if (r.Src is { } src) yield return ("src", src);
                yield return ("dst", r.Dst);
                if (r.Service is { } service)
                {
                    yield return ("proto", Service.ProtoName(service.Proto));
                    if (service.Ports is { } ports) yield return ("dport", ports.ToString());
                }
                yield return ("action", r.Action == RuleAction.Allow ? "allow" : "deny");
                if (r.Comment is { Length: > 0 } rc) yield return ("comment", rc);
                break;
            case Assignment a:
                yield return ("vmid", a.Vmid.ToString(CultureInfo.InvariantCulture));
                yield return ("iface", a.Iface.ToString(CultureInfo.InvariantCulture));
                yield return ("group", a.Group);
                break;
            case Bridge b:
                if (b.Nodes.Count > 0) yield return ("nodes", string.Join(',', b.Nodes));
                break;
            case Forwarder f:
                yield return ("router", f.Router);
                yield return ("physical", string.Join(',', f.Physical));
                yield return ("mode", Word(f.Mode));
                if (f.Nodes.Count > 0) yield return ("nodes", string.Join(',', f.Nodes));
                break;
        }
    }

    /// <summary>A Proxmox boolean as the file writes it: "1" or "0".</summary>
    public static string Flag(bool value) => value ? "1" : "0";

    /// <summary>Accepts a Proxmox boolean: 1|0 (also on|off, yes|no, true|false, as Proxmox's
    /// schema does); writes are always 1|0.</summary>
    public static bool TryParseFlag(string text, out bool value)
    {
        switch (text.ToLowerInvariant())
        {
            case "1": case "on": case "yes": case "true": value = true; return true;
            case "0": case "off": case "no": case "false": value = false; return true;
            default: value = false; return false;
        }
    }

    /// <summary>Parses a comma list ("a,b, c"); empty items are an error.</summary>
    public static bool TryParseList(string value, out ValueList<string> items)
    {
        var parts = value.Split(',').Select(p => p.Trim()).ToArray();
        items = new ValueList<string>(parts);
        return parts.All(p => p.Length > 0);
    }

    /// <summary>"skb" or "native", as the config, the snapshot, the CLI and the API write it.</summary>
    public static string Word(ForwarderMode mode) => mode == ForwarderMode.Native ? "native" : "skb";

    public static bool TryParseMode(string value, out ForwarderMode mode)
    {
        switch (value)
        {
            case "skb": mode = ForwarderMode.Skb; return true;
            case "native": mode = ForwarderMode.Native; return true;
            default: mode = default; return false;
        }
    }

    public static bool TryParseAction(string value, out RuleAction action)
    {
        switch (value)
        {
            case "allow": action = RuleAction.Allow; return true;
            case "deny": action = RuleAction.Deny; return true;
            default: action = default; return false;
        }
    }

    private sealed partial class Parser(string file)
    {
        private readonly List<ConfigProblem> problems = [];
        private readonly Dictionary<string, (ObjectType Type, int Line)> ids = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> lines = new(StringComparer.Ordinal);
        private readonly List<IConfigObject> objects = [];
        private readonly ImmutableDictionary<string, ImmutableArray<string>>.Builder comments =
            ImmutableDictionary.CreateBuilder<string, ImmutableArray<string>>();
        private List<string> pendingComments = [];

        private Section? current;

        private sealed record Section(ObjectType Type, string Id, int Line, List<string> Comments)
        {
            public Dictionary<string, (string Value, int Line)> Props { get; } = new(StringComparer.Ordinal);
        }

        public PolicyConfig Run(string text)
        {
            int lineNo = 0;
            int start = 0;
            while (start <= text.Length)
            {
                int end = text.IndexOf('\n', start);
                if (end < 0) end = text.Length;
                lineNo++;
                var line = text.AsSpan(start, end - start);
                if (line.EndsWith("\r")) line = line[..^1];
                Line(line, lineNo);
                if (end == text.Length) break;
                start = end + 1;
            }
            Close();
            if (problems.Count > 0) throw new ConfigException(problems);

            var config = PolicyConfig.Create(
                objects.OfType<Group>(), objects.OfType<Rule>(), objects.OfType<Assignment>(),
                objects.OfType<Bridge>(), objects.OfType<Forwarder>());
            // Trailing comments are those not followed by a section.
            return config
                .WithComments(comments.ToImmutable(), [.. pendingComments])
                .WithSource(new SourceInfo(file, lines));
        }

        private void Error(int line, string message, string? objectRef = null, string? field = null) =>
            problems.Add(new ConfigProblem($"{file}:{line}", objectRef, message, field));

        private void Line(ReadOnlySpan<char> line, int lineNo)
        {
            var trimmed = line.Trim();
            if (trimmed.IsEmpty) { Close(); skippingBrokenSection = false; return; }
            if (trimmed[0] == '#')
            {
                (current?.Comments ?? pendingComments).Add(line.TrimEnd().ToString());
                return;
            }
            if (!char.IsWhiteSpace(line[0])) { Header(line.TrimEnd(), lineNo); return; }
            Property(trimmed, lineNo);
        }

        private void Header(ReadOnlySpan<char> line, int lineNo)
        {
            Close();
            skippingBrokenSection = true;
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                Error(lineNo, $"expected a section header 'TYPE: ID', found '{Text.Clip(line.ToString())}'");
                current = null;
                return;
            }
            var typeName = line[..colon].ToString();
            var id = line[(colon + 1)..].Trim().ToString();
            if (!ObjectTypes.TryParse(typeName, out var type))
            {
                Error(lineNo, $"unknown section type '{Text.Clip(typeName)}' (expected {string.Join(", ", ObjectTypes.All.Select(t => t.Name()))})");
                current = null;
                return;
            }
            if (id.Length == 0 || id.Any(char.IsWhiteSpace))
            {
                Error(lineNo, $"{type.Name()} section needs one id after '{type.Name()}:', found '{Text.Clip(id)}'");
                current = null;
                return;
            }
            if (Names.ControlProblem("id", id) is { } idProblem)
            {
                Error(lineNo, idProblem, ConfigProblem.Describe(type, id));
                current = null;
                return;
            }
            skippingBrokenSection = false;
            current = new Section(type, id, lineNo, pendingComments);
            pendingComments = [];
        }

        private void Property(ReadOnlySpan<char> line, int lineNo)
        {
            if (current is null)
            {
                // The properties of a section whose header was broken were reported with it.
                if (!skippingBrokenSection) Error(lineNo, "property outside a section");
                return;
            }
            int space = line.IndexOfAny(' ', '\t');
            var key = (space < 0 ? line : line[..space]).ToString();
            var value = space < 0 ? "" : line[(space + 1)..].Trim().ToString();
            var what = ConfigProblem.Describe(current.Type, current.Id);
            if (!Keys[current.Type].Contains(key))
            {
                Error(lineNo, $"unknown key '{Text.Clip(key)}' (a {current.Type.Name()} has {string.Join(", ", Keys[current.Type])})", what, key);
                return;
            }
            if (current.Props.TryGetValue(key, out var first))
            {
                Error(lineNo, $"duplicate key '{key}' (first on line {first.Line})", what, key);
                return;
            }
            if (value.Length == 0)
            {
                Error(lineNo, $"key '{key}' has no value", what, key);
                return;
            }
            if (Names.ControlProblem(key, value) is { } controlProblem)
            {
                Error(lineNo, controlProblem, what, key);
                return;
            }
            if (key == "comment" && Names.CommentLengthProblem(value) is { } lengthProblem)
            {
                Error(lineNo, lengthProblem, what, key);
                return;
            }
            current.Props[key] = (value, lineNo);
        }

        private bool skippingBrokenSection;

        private void Close()
        {
            if (current is null) return;
            var section = current;
            current = null;
            var before = problems.Count;
            var obj = Build(section);
            if (obj is null || problems.Count > before) return;
            if (ids.TryGetValue(obj.Id, out var prior))
            {
                Error(section.Line, prior.Type == obj.Type
                    ? $"duplicate {obj.Type.Name()} '{Text.Clip(obj.Id)}' (first defined on line {prior.Line})"
                    : $"id '{Text.Clip(obj.Id)}' is already used by the {prior.Type.Name()} on line {prior.Line} (ids are unique across types)");
                return;
            }
            ids[obj.Id] = (obj.Type, section.Line);
            var key = SourceInfo.Key(obj.Type, obj.Id);
            lines[key] = section.Line;
            if (section.Comments.Count > 0) comments[key] = [.. section.Comments];
            objects.Add(obj);
        }

        private IConfigObject? Build(Section s)
        {
            var what = ConfigProblem.Describe(s.Type, s.Id);
            string? Get(string key) => s.Props.TryGetValue(key, out var v) ? v.Value : null;
            int LineOf(string key) => s.Props.TryGetValue(key, out var v) ? v.Line : s.Line;
            string? Required(string key)
            {
                var v = Get(key);
                if (v is null) Error(s.Line, $"missing required key '{key}'", what, key);
                return v;
            }
            long? Integer(string key, bool required)
            {
                var v = required ? Required(key) : Get(key);
                if (v is null) return null;
                if (long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n <= int.MaxValue) return n;
                Error(LineOf(key), $"{key} '{Text.Clip(v)}' is not a whole number in range", what, key);
                return null;
            }

            switch (s.Type)
            {
                case ObjectType.Group:
                {
                    var mark = Integer("mark", required: false);
                    bool? Switch(string key)
                    {
                        if (Get(key) is not { } v) return null;
                        if (TryParseFlag(v, out var on)) return on;
                        Error(LineOf(key), $"{key} '{Text.Clip(v)}' is not 0 or 1", what, key);
                        return null;
                    }
                    return new Group(s.Id, (int?)mark, Get("parent"), Get("comment"), Switch("stateful"), Switch("infra"), Switch("audit"));
                }
                case ObjectType.Rule:
                {
                    var dst = Required("dst");
                    RuleAction action = RuleAction.Deny;
                    var actionText = Get("action");
                    var allowText = Get("allow");
                    if (actionText is not null && allowText is not null)
                        Error(LineOf("allow"), "give either 'action' or 'allow', not both", what, "allow");
                    else if (actionText is not null)
                    {
                        if (!TryParseAction(actionText, out action))
                            Error(LineOf("action"), $"action '{Text.Clip(actionText)}' is not 'allow' or 'deny'", what, "action");
                    }
                    else if (allowText is not null)
                    {
                        if (allowText is "1" or "0") action = allowText == "1" ? RuleAction.Allow : RuleAction.Deny;
                        else Error(LineOf("allow"), $"allow '{Text.Clip(allowText)}' is not 1 or 0", what, "allow");
                    }
                    else Error(s.Line, "missing required key 'action'", what, "action");
                    var (service, serviceProblems) = Service.Parse(Get("proto"), Get("dport"));
                    foreach (var (field, message) in serviceProblems) Error(LineOf(field), message, what, field);
                    return dst is null ? null : new Rule(s.Id, Get("src"), dst, action, Get("comment"), service);
                }
                case ObjectType.Assignment:
                {
                    var vmid = Integer("vmid", required: true);
                    var iface = Integer("iface", required: true);
                    var group = Required("group");
                    if (vmid is null || iface is null || group is null) return null;
                    var assignment = new Assignment(vmid.Value, iface.Value, group);
                    if (assignment.Id != s.Id)
                        Error(s.Line, $"id must be '{assignment.Id}' (derived from vmid {vmid} and iface {iface})", what);
                    return assignment;
                }
                case ObjectType.Bridge:
                {
                    var nodes = ValueList<string>.Empty;
                    if (Get("nodes") is { } n && !TryParseList(n, out nodes))
                        Error(LineOf("nodes"), $"nodes '{Text.Clip(n)}' has an empty item", what, "nodes");
                    return new Bridge(s.Id, nodes);
                }
                case ObjectType.Forwarder:
                {
                    var router = Required("router");
                    var physicalText = Required("physical");
                    var mode = ForwarderMode.Skb;
                    if (Get("mode") is { } m && !TryParseMode(m, out mode))
                        Error(LineOf("mode"), $"mode '{Text.Clip(m)}' is not 'skb' or 'native'", what, "mode");
                    if (router is null || physicalText is null) return null;
                    if (!TryParseList(physicalText, out var physical))
                        Error(LineOf("physical"), $"physical '{Text.Clip(physicalText)}' has an empty item", what, "physical");
                    var nodes = ValueList<string>.Empty;
                    if (Get("nodes") is { } n && !TryParseList(n, out nodes))
                        Error(LineOf("nodes"), $"nodes '{Text.Clip(n)}' has an empty item", what, "nodes");
                    return new Forwarder(s.Id, router, physical, mode, nodes);
                }
                default:
                    return null;
            }
        }
    }
}
