// Create, update and delete of each object type from request parameters. The checks and the
// construction are ConfigEdits', shared with the CLI; here the request's fields become its
// arguments (every field error reported at once, before the file is touched) and its refusals
// become 400 (under the field each is about) or 404.
using Microseg.Api.Endpoints;
using Microseg.Policy;

namespace Microseg.Api.Editing;

/// <summary>An edit of the pending config: the new config and the object to show (null after a delete).</summary>
public delegate (PolicyConfig Config, IConfigObject? Object) ConfigEdit(PolicyConfig config);

internal static class ObjectEdits
{
    private const string Digest = "digest";

    /// <summary>Parses a create request; field errors are thrown before the file is touched.</summary>
    public static ConfigEdit Create(ObjectType type, RequestFields f) => type switch
    {
        ObjectType.Group => CreateGroup(f),
        ObjectType.Rule => CreateRule(f),
        ObjectType.Assignment => CreateAssignment(f),
        ObjectType.Bridge => CreateBridge(f),
        ObjectType.Forwarder => CreateForwarder(f),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static ConfigEdit Update(ObjectType type, string id, RequestFields f) => type switch
    {
        ObjectType.Group => UpdateGroup(id, f),
        ObjectType.Rule => UpdateRule(id, f),
        ObjectType.Assignment => UpdateAssignment(id, f),
        ObjectType.Bridge => UpdateBridge(id, f),
        ObjectType.Forwarder => UpdateForwarder(id, f),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static ConfigEdit Delete(ObjectType type, string id, RequestFields f)
    {
        f.RejectUnknown([Digest]);
        f.ThrowIfErrors($"cannot delete {type.Name()} '{id}'");
        return Run<IConfigObject?>(config => (ConfigEdits.Delete(config, type, id), null));
    }

    // ---- groups -----------------------------------------------------------------------------

    private static ConfigEdit CreateGroup(RequestFields f)
    {
        f.RejectUnknown(["id", "mark", "parent", "comment", .. GroupSwitches.Keys, Digest]);
        var id = f.String("id", required: true);
        var mark = f.Integer("mark");
        var parent = NonEmpty(f.String("parent"));
        var comment = f.Comment();
        var switches = Switches(f);
        Report(f, ConfigEdits.GroupProblems(id, mark));
        f.ThrowIfErrors("invalid group");
        return Run(config => ConfigEdits.AddGroup(config, id!, (int?)mark, parent, comment, switches));
    }

    private static ConfigEdit UpdateGroup(string id, RequestFields f)
    {
        f.RejectUnknown(["mark", "parent", "comment", .. GroupSwitches.Keys, "delete", Digest]);
        var mark = f.Integer("mark");
        var parent = NonEmpty(f.String("parent"));
        var comment = f.Comment();
        var switches = Switches(f);
        var deletes = CommentCleared(f, comment, f.Deletes(["parent", "comment", .. GroupSwitches.Keys]));
        Report(f, ConfigEdits.GroupProblems(null, mark));
        f.ThrowIfErrors($"invalid update of group '{id}'");
        return Run(config => ConfigEdits.UpdateGroup(config, id, (int?)mark, parent, comment, deletes, switches));
    }

    /// <summary>stateful, infra and audit: Proxmox booleans; absent ones stay as they are
    /// (inherited on a new group).</summary>
    private static SwitchSettings Switches(RequestFields f) =>
        new(f.Boolean("stateful"), f.Boolean("infra"), f.Boolean("audit"));

    // ---- rules ------------------------------------------------------------------------------

    private static ConfigEdit CreateRule(RequestFields f)
    {
        f.RejectUnknown(["src", "dst", "proto", "dport", "action", "comment", Digest]);
        var src = NonEmpty(f.String("src")) is { } s && s != Names.Untagged ? s : null;
        var dst = f.String("dst", required: true);
        var service = RuleService(f);
        var action = Action(f, required: true);
        var comment = f.Comment();
        f.ThrowIfErrors("invalid rule");
        return Run(config => ConfigEdits.AddRule(config, new RuleKey(src, dst!, service), action!.Value, comment));
    }

    /// <summary>proto and dport (empty = not given), each problem under its field.</summary>
    private static Service? RuleService(RequestFields f)
    {
        var (service, problems) = Service.Parse(NonEmpty(f.String("proto")), NonEmpty(f.String("dport")));
        foreach (var (field, message) in problems) f.Error(field, message);
        return service;
    }

    private static ConfigEdit UpdateRule(string id, RequestFields f)
    {
        foreach (var fixedField in new[] { "src", "dst", "proto", "dport" })
            if (f.Has(fixedField)) f.Error(fixedField, "cannot be changed: the rule id derives from src, dst and the service (delete the rule and create another)");
        f.RejectUnknown(["src", "dst", "proto", "dport", "action", "comment", "delete", Digest]);
        var action = Action(f, required: false);
        var comment = f.Comment();
        var deletes = CommentCleared(f, comment, f.Deletes(["comment"]));
        f.ThrowIfErrors($"invalid update of rule '{id}'");
        return Run(config => ConfigEdits.UpdateRule(config, id, action, comment, deletes));
    }

    private static RuleAction? Action(RequestFields f, bool required)
    {
        var text = f.String("action", required);
        if (text is null) return null;
        if (SectionConfig.TryParseAction(text, out var action)) return action;
        f.Error("action", $"'{Text.Clip(text)}' is not 'allow' or 'deny'");
        return null;
    }

    // ---- assignments ------------------------------------------------------------------------

    private static ConfigEdit CreateAssignment(RequestFields f)
    {
        f.RejectUnknown(["vmid", "iface", "group", Digest]);
        var vmid = f.Integer("vmid", required: true);
        var iface = f.Integer("iface", required: true);
        var group = f.String("group", required: true);
        if (vmid is { } v && v is < Names.MinVmid or > Names.MaxVmid) f.Error("vmid", $"{v} is out of range {Names.MinVmid}..{Names.MaxVmid}");
        if (iface is { } i && i is < Names.MinIface or > Names.MaxIface) f.Error("iface", $"{i} is out of range {Names.MinIface}..{Names.MaxIface}");
        f.ThrowIfErrors("invalid assignment");
        return Run(config => ConfigEdits.AddAssignment(config, vmid!.Value, iface!.Value, group!));
    }

    private static ConfigEdit UpdateAssignment(string id, RequestFields f)
    {
        foreach (var fixedField in new[] { "vmid", "iface" })
            if (f.Has(fixedField)) f.Error(fixedField, "cannot be changed: the assignment id derives from vmid and iface (delete it and create another)");
        f.RejectUnknown(["vmid", "iface", "group", Digest]);
        var group = f.String("group");
        f.ThrowIfErrors($"invalid update of assignment '{id}'");
        return Run(config => ConfigEdits.UpdateAssignment(config, id, group));
    }

    // ---- bridges ----------------------------------------------------------------------------

    private static ConfigEdit CreateBridge(RequestFields f)
    {
        f.RejectUnknown(["id", "nodes", Digest]);
        var id = f.String("id", required: true);
        var nodes = f.List("nodes") ?? ValueList<string>.Empty;
        Report(f, ConfigEdits.BridgeProblems(id));
        f.ThrowIfErrors("invalid bridge");
        return Run(config => ConfigEdits.AddBridge(config, id!, nodes));
    }

    private static ConfigEdit UpdateBridge(string id, RequestFields f)
    {
        f.RejectUnknown(["nodes", "delete", Digest]);
        var nodes = f.List("nodes");
        if (f.Deletes(["nodes"]).Contains("nodes")) nodes = ValueList<string>.Empty;
        f.ThrowIfErrors($"invalid update of bridge '{id}'");
        return Run(config => ConfigEdits.UpdateBridge(config, id, nodes));
    }

    // ---- forwarders -------------------------------------------------------------------------

    private static ConfigEdit CreateForwarder(RequestFields f)
    {
        f.RejectUnknown(["id", "router", "physical", "mode", "nodes", Digest]);
        var id = f.String("id", required: true);
        var router = f.String("router", required: true);
        var physical = f.List("physical", required: true);
        var mode = Mode(f) ?? ForwarderMode.Skb;
        var nodes = f.List("nodes") ?? ValueList<string>.Empty;
        Report(f, ConfigEdits.ForwarderProblems(id, router, physical));
        f.ThrowIfErrors("invalid forwarder");
        return Run(config => ConfigEdits.AddForwarder(config, id!, router!, physical!, mode, nodes));
    }

    private static ConfigEdit UpdateForwarder(string id, RequestFields f)
    {
        f.RejectUnknown(["router", "physical", "mode", "nodes", "delete", Digest]);
        var router = f.String("router");
        var physical = f.List("physical");
        var mode = Mode(f);
        var nodes = f.List("nodes");
        var deletes = f.Deletes(["mode", "nodes"]);
        if (deletes.Contains("mode")) mode = ForwarderMode.Skb;
        if (deletes.Contains("nodes")) nodes = ValueList<string>.Empty;
        Report(f, ConfigEdits.ForwarderProblems(null, router, physical));
        f.ThrowIfErrors($"invalid update of forwarder '{id}'");
        return Run(config => ConfigEdits.UpdateForwarder(config, id, router, physical, mode, nodes));
    }

    private static ForwarderMode? Mode(RequestFields f)
    {
        if (f.String("mode") is not { } text) return null;
        if (SectionConfig.TryParseMode(text, out var mode)) return mode;
        f.Error("mode", $"'{Text.Clip(text)}' is not 'skb' or 'native'");
        return null;
    }

    // ---- shared -----------------------------------------------------------------------------

    /// <summary>A shared edit, its refusals in the API's words: 404 for a missing object, else
    /// 400 with each problem under its field (the id when it names none).</summary>
    private static ConfigEdit Run<T>(Func<PolicyConfig, (PolicyConfig Config, T Object)> edit) where T : IConfigObject? => config =>
    {
        try
        {
            var (after, obj) = edit(config);
            return (after, obj);
        }
        catch (MissingObjectException e)
        {
            throw ApiException.NotFound(e.Message);
        }
        catch (ConfigEditException e)
        {
            var errors = Errors(e.Problems);
            if (e.Existing is { } existing && e.Problems.Count == 1)
            {
                var (field, message) = errors.Single();
                var verb = existing.Type == ObjectType.Assignment ? "move" : "change";
                errors[field] = $"{message} ({verb} it with PUT .../{existing.Type.Name()}/{existing.Id})";
            }
            throw errors.Count == 1 ? ApiException.Invalid(errors.Keys.Single(), errors.Values.Single()) : ApiException.Invalid(e.Message, errors);
        }
    };

    public static T Existing<T>(PolicyConfig config, ObjectType type, string id) where T : class, IConfigObject =>
        config.Find(type, id) as T ?? throw ApiException.NotFound(PolicyConfig.MissingProblem(type, id));

    /// <summary>The problems ConfigEdits finds in the arguments alone, among the request's other field errors.</summary>
    private static void Report(RequestFields f, IReadOnlyList<ConfigProblem> problems)
    {
        foreach (var (field, message) in Errors(problems)) f.Error(field, message);
    }

    private static SortedDictionary<string, string> Errors(IEnumerable<ConfigProblem> problems)
    {
        var errors = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in problems)
        {
            var field = p.Field ?? "id";
            errors[field] = errors.TryGetValue(field, out var earlier) ? $"{earlier}; {p.Message}" : p.Message;
        }
        return errors;
    }

    /// <summary>A comment given empty removes it, as `delete=comment` does.</summary>
    private static IReadOnlySet<string> CommentCleared(RequestFields f, string? comment, IReadOnlySet<string> deletes) =>
        f.Has("comment") && comment is null ? new HashSet<string>(deletes) { "comment" } : deletes;

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
}
