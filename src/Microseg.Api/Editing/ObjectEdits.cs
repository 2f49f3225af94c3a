// Create, update and delete of each object type from request parameters, with the same rules
// as the CLI's editing commands: ids of groups, bridges and forwarders are given; rule ids
// (p{src_mark}-{dst_mark}) and assignment ids (vm{vmid}i{iface}) are derived; a group without
// a mark gets the lowest free one, stored in the file.
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
        return config =>
        {
            Existing<IConfigObject>(config, type, id);
            return (config.Remove(type, id), null);
        };
    }

    // ---- groups -----------------------------------------------------------------------------

    private static ConfigEdit CreateGroup(RequestFields f)
    {
        f.RejectUnknown(["id", "mark", "parent", "comment", Digest]);
        var id = f.String("id", required: true);
        if (id is not null && Names.GroupNameProblem(id) is { } problem) f.Error("id", problem);
        var mark = Mark(f);
        var parent = NonEmpty(f.String("parent"));
        var comment = f.Comment();
        f.ThrowIfErrors("invalid group");
        return config =>
        {
            EnsureFreeId(config, ObjectType.Group, id!, "id");
            var m = mark ?? Marks.NextFree(config);
            EnsureMarkFree(config, m, id!);
            var group = new Group(id!, m, parent, comment);
            return (config.Put(group), group);
        };
    }

    private static ConfigEdit UpdateGroup(string id, RequestFields f)
    {
        f.RejectUnknown(["mark", "parent", "comment", "delete", Digest]);
        var mark = Mark(f);
        var parent = NonEmpty(f.String("parent"));
        var commentGiven = f.Has("comment");
        var comment = f.Comment();
        var deletes = f.Deletes(["parent", "comment"]);
        f.ThrowIfErrors($"invalid update of group '{id}'");
        return config =>
        {
            var group = Existing<Group>(config, ObjectType.Group, id);
            var updated = group with
            {
                Mark = mark ?? group.Mark,
                Parent = deletes.Contains("parent") ? null : parent ?? group.Parent,
                Comment = deletes.Contains("comment") ? null : commentGiven ? comment : group.Comment,
            };
            if (mark is { } m && m != group.Mark) EnsureMarkFree(config, m, id);
            config = config.Put(updated);
            if (updated.Mark != group.Mark) config = config.RederiveRuleIds(id);
            return (config, updated);
        };
    }

    private static int? Mark(RequestFields f)
    {
        var mark = f.Integer("mark");
        if (mark is { } m && m is < Names.MinMark or > Names.MaxMark)
        {
            f.Error("mark", m == 0 ? "0 is reserved for untagged traffic (use 1..65535)" : $"{m} is out of range 1..65535");
            return null;
        }
        return (int?)mark;
    }

    private static void EnsureMarkFree(PolicyConfig config, int mark, string group)
    {
        if (config.Groups.Values.FirstOrDefault(g => g.Mark == mark && g.Name != group) is { } other)
            throw ApiException.Invalid("mark", $"mark {mark} is already used by group '{other.Name}'");
    }

    // ---- rules ------------------------------------------------------------------------------

    private static ConfigEdit CreateRule(RequestFields f)
    {
        f.RejectUnknown(["src", "dst", "action", "comment", Digest]);
        var src = NonEmpty(f.String("src")) is { } s && s != Names.Untagged ? s : null;
        var dst = f.String("dst", required: true);
        var action = Action(f, required: true);
        var comment = f.Comment();
        f.ThrowIfErrors("invalid rule");
        return config =>
        {
            if (src is not null && !config.Groups.ContainsKey(src)) throw ApiException.Invalid("src", $"unknown group '{Text.Clip(src)}'");
            if (!config.Groups.ContainsKey(dst!)) throw ApiException.Invalid("dst", $"unknown group '{Text.Clip(dst!)}'");
            // The id needs both marks; a hand-written group without one gets it now, as commit would.
            (config, _) = Marks.AssignMissing(config);
            var id = config.DerivedRuleId(src, dst!)!;
            if (config.Rules.Values.FirstOrDefault(r => r.Src == src && r.Dst == dst) is { } existing)
                throw ApiException.Invalid("dst", $"rule '{existing.Id}' already covers {src ?? Names.Untagged} -> {dst} (change it with PUT .../rule/{existing.Id})");
            EnsureFreeId(config, ObjectType.Rule, id, "dst");
            var rule = new Rule(id, src, dst!, action!.Value, comment);
            return (config.Put(rule), rule);
        };
    }

    private static ConfigEdit UpdateRule(string id, RequestFields f)
    {
        foreach (var fixedField in new[] { "src", "dst" })
            if (f.Has(fixedField)) f.Error(fixedField, "cannot be changed: the rule id derives from src and dst (delete the rule and create another)");
        f.RejectUnknown(["src", "dst", "action", "comment", "delete", Digest]);
        var action = Action(f, required: false);
        var commentGiven = f.Has("comment");
        var comment = f.Comment();
        var deletes = f.Deletes(["comment"]);
        f.ThrowIfErrors($"invalid update of rule '{id}'");
        return config =>
        {
            var rule = Existing<Rule>(config, ObjectType.Rule, id);
            var updated = rule with
            {
                Action = action ?? rule.Action,
                Comment = deletes.Contains("comment") ? null : commentGiven ? comment : rule.Comment,
            };
            return (config.Put(updated), updated);
        };
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
        // An unknown group is Validation's to refuse, under "group", as for a rule's parent.
        return config =>
        {
            var assignment = new Assignment(vmid!.Value, iface!.Value, group!);
            if (config.Assignments.ContainsKey(assignment.Id))
                throw ApiException.Invalid("vmid", $"assignment '{assignment.Id}' already exists (move it with PUT .../assignment/{assignment.Id})");
            EnsureFreeId(config, ObjectType.Assignment, assignment.Id, "vmid");
            return (config.Put(assignment), assignment);
        };
    }

    private static ConfigEdit UpdateAssignment(string id, RequestFields f)
    {
        foreach (var fixedField in new[] { "vmid", "iface" })
            if (f.Has(fixedField)) f.Error(fixedField, "cannot be changed: the assignment id derives from vmid and iface (delete it and create another)");
        f.RejectUnknown(["vmid", "iface", "group", Digest]);
        var group = f.String("group");
        f.ThrowIfErrors($"invalid update of assignment '{id}'");
        return config =>
        {
            var assignment = Existing<Assignment>(config, ObjectType.Assignment, id);
            var updated = assignment with { Group = group ?? assignment.Group };
            return (config.Put(updated), updated);
        };
    }

    // ---- bridges ----------------------------------------------------------------------------

    private static ConfigEdit CreateBridge(RequestFields f)
    {
        f.RejectUnknown(["id", "nodes", Digest]);
        var id = f.String("id", required: true);
        if (id is not null && Names.InterfaceNameProblem(id) is { } problem) f.Error("id", problem);
        var nodes = f.List("nodes") ?? ValueList<string>.Empty;
        f.ThrowIfErrors("invalid bridge");
        return config =>
        {
            EnsureFreeId(config, ObjectType.Bridge, id!, "id");
            var bridge = new Bridge(id!, nodes);
            return (config.Put(bridge), bridge);
        };
    }

    private static ConfigEdit UpdateBridge(string id, RequestFields f)
    {
        f.RejectUnknown(["nodes", "delete", Digest]);
        var nodes = f.List("nodes");
        var deletes = f.Deletes(["nodes"]);
        f.ThrowIfErrors($"invalid update of bridge '{id}'");
        return config =>
        {
            var bridge = Existing<Bridge>(config, ObjectType.Bridge, id);
            var updated = bridge with { Nodes = deletes.Contains("nodes") ? ValueList<string>.Empty : nodes ?? bridge.Nodes };
            return (config.Put(updated), updated);
        };
    }

    // ---- forwarders -------------------------------------------------------------------------

    private static ConfigEdit CreateForwarder(RequestFields f)
    {
        f.RejectUnknown(["id", "router", "physical", "mode", Digest]);
        var id = f.String("id", required: true);
        if (id is not null && Names.ForwarderNameProblem(id) is { } problem) f.Error("id", problem);
        var router = Router(f, required: true);
        var physical = Physical(f, required: true);
        var mode = Mode(f) ?? ForwarderMode.Skb;
        f.ThrowIfErrors("invalid forwarder");
        return config =>
        {
            EnsureFreeId(config, ObjectType.Forwarder, id!, "id");
            var forwarder = new Forwarder(id!, router!, physical!, mode);
            return (config.Put(forwarder), forwarder);
        };
    }

    private static ConfigEdit UpdateForwarder(string id, RequestFields f)
    {
        f.RejectUnknown(["router", "physical", "mode", "delete", Digest]);
        var router = Router(f, required: false);
        var physical = Physical(f, required: false);
        var mode = Mode(f);
        var deletes = f.Deletes(["mode"]);
        f.ThrowIfErrors($"invalid update of forwarder '{id}'");
        return config =>
        {
            var forwarder = Existing<Forwarder>(config, ObjectType.Forwarder, id);
            var updated = forwarder with
            {
                Router = router ?? forwarder.Router,
                Physical = physical ?? forwarder.Physical,
                Mode = deletes.Contains("mode") ? ForwarderMode.Skb : mode ?? forwarder.Mode,
            };
            return (config.Put(updated), updated);
        };
    }

    private static string? Router(RequestFields f, bool required)
    {
        var router = f.String("router", required);
        if (router is not null && Names.InterfaceNameProblem(router) is { } problem) f.Error("router", problem);
        return router;
    }

    private static ValueList<string>? Physical(RequestFields f, bool required)
    {
        var physical = f.List("physical", required);
        if (physical is { Count: 0 }) f.Error("physical", "needs at least one interface (or '*')");
        return physical;
    }

    private static ForwarderMode? Mode(RequestFields f)
    {
        if (f.String("mode") is not { } text) return null;
        if (SectionConfig.TryParseMode(text, out var mode)) return mode;
        f.Error("mode", $"'{Text.Clip(text)}' is not 'skb' or 'native'");
        return null;
    }

    // ---- shared -----------------------------------------------------------------------------

    public static T Existing<T>(PolicyConfig config, ObjectType type, string id) where T : class, IConfigObject =>
        config.Find(type, id) as T ?? throw ApiException.NotFound(PolicyConfig.MissingProblem(type, id));

    private static void EnsureFreeId(PolicyConfig config, ObjectType type, string id, string field)
    {
        if (config.IdTakenProblem(type, id) is { } problem) throw ApiException.Invalid(field, problem);
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
}
