// The edits of the pending config that the CLI and the API both offer, with their checks, once:
// each front end turns its options or request fields into these arguments and its own words
// for a refusal. Ids of groups, bridges and forwarders are given; rule ids (from the rule's
// key) and assignment ids (vm{vmid}i{iface}) are derived; a group without a mark gets the
// lowest free one, stored in the file. What the whole config says about an edit (an unknown
// parent, a node name) is Validation's: editors refuse an edit that adds a problem.
namespace Microseg.Policy;

/// <summary>An edit that cannot be made, with one problem per property it is about (Field null:
/// the object's id). Existing is the object to change instead, when one is in the way.</summary>
public sealed class ConfigEditException(IReadOnlyList<ConfigProblem> problems, IConfigObject? existing = null)
    : Exception(string.Join("; ", problems.Select(p => p.Message)))
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
    public IConfigObject? Existing { get; } = existing;
}

/// <summary>The object an edit names is not in the pending config.</summary>
public sealed class MissingObjectException(ObjectType type, string id) : Exception(PolicyConfig.MissingProblem(type, id))
{
    public ObjectType Type { get; } = type;
    public string Id { get; } = id;
}

/// <summary>A group's switches as an edit gives them: null = not given (kept on update,
/// inherited on add).</summary>
public sealed record SwitchSettings(bool? Stateful = null, bool? Infra = null, bool? Audit = null);

public static class ConfigEdits
{
    // ---- checks of the arguments alone (front ends may run them early, to report all at once)

    public static IReadOnlyList<ConfigProblem> GroupProblems(string? name, long? mark) =>
        Problems(ObjectType.Group, name, (null, name is null ? null : Names.ControlProblem("id", name) ?? Names.GroupNameProblem(name)), ("mark", mark is { } m ? Names.MarkProblem(m) : null));

    public static IReadOnlyList<ConfigProblem> BridgeProblems(string? name) =>
        Problems(ObjectType.Bridge, name, (null, name is null ? null : Names.ControlProblem("id", name) ?? Names.InterfaceNameProblem(name)));

    public static IReadOnlyList<ConfigProblem> ForwarderProblems(string? name, string? router, ValueList<string>? physical) =>
        Problems(ObjectType.Forwarder, name,
            (null, name is null ? null : Names.ControlProblem("id", name) ?? Names.ForwarderNameProblem(name)),
            ("router", router is null ? null : Names.ControlProblem("router", router) ?? (Names.InterfaceNameProblem(router) is { } rp ? "router: " + rp : null)),
            ("physical", physical is { Count: 0 } ? "physical needs at least one interface (or '*')" : null));

    /// <summary>Values that cannot stand in the file, whatever the object: a control character
    /// anywhere (a newline would start a line, or a section, of its own) and a comment over
    /// <see cref="Names.MaxCommentLength"/>. Each edit checks its arguments with this first.</summary>
    public static IReadOnlyList<ConfigProblem> ValueProblems(ObjectType type, string? id, params (string Field, string? Value)[] values) =>
        Problems(type, id is not null && Names.ControlProblem("id", id) is null ? id : null,
        [
            (null, id is null ? null : Names.ControlProblem("id", id)),
            .. values.Select(v => ((string?)v.Field, v.Value is null ? null
                : Names.ControlProblem(v.Field, v.Value) ?? (v.Field == "comment" ? Names.CommentLengthProblem(v.Value) : null))),
        ]);

    private static (string Field, string? Value)[] Listed(string field, ValueList<string>? list) =>
        list is null ? [] : [.. list.Select(item => (field, (string?)item))];

    /// <summary>The one wording of "this edit would leave the config invalid", for every front
    /// end: <paramref name="what"/> is the edit ("updating group 'web'").</summary>
    public static string RefusalMessage(string what, IEnumerable<ConfigProblem> added) =>
        $"refused: {what} would leave the config invalid: " + string.Join("; ", added.Select(p => p.ObjectRef is null ? p.Message : $"{p.ObjectRef}: {p.Message}"));

    // ---- groups -----------------------------------------------------------------------------

    /// <summary>Switches: the settings the group gets (null, or a null switch: inherited).</summary>
    public static (PolicyConfig Config, Group Group) AddGroup(PolicyConfig config, string name, int? mark, string? parent, string? comment, SwitchSettings? switches = null)
    {
        Ensure(ValueProblems(ObjectType.Group, name, ("parent", parent), ("comment", comment)));
        Ensure(GroupProblems(name, mark));
        EnsureFreeId(config, ObjectType.Group, name);
        var m = mark ?? Marks.NextFree(config);
        EnsureMarkFree(config, m, name);
        var group = new Group(name, m, parent, comment, switches?.Stateful, switches?.Infra, switches?.Audit);
        return (config.Put(group), group);
    }

    /// <summary>Null arguments keep a property; <paramref name="deletes"/> names those to remove
    /// (a removed switch is inherited again). Rule ids that derive from the mark follow a mark
    /// change.</summary>
    public static (PolicyConfig Config, Group Group) UpdateGroup(PolicyConfig config, string name, int? mark, string? parent, string? comment, IReadOnlySet<string> deletes, SwitchSettings? switches = null)
    {
        var group = Existing<Group>(config, ObjectType.Group, name);
        Ensure(ValueProblems(ObjectType.Group, name, ("parent", parent), ("comment", comment)));
        Ensure(GroupProblems(null, mark));
        var updated = group with
        {
            Mark = mark ?? group.Mark,
            Parent = deletes.Contains("parent") ? null : parent ?? group.Parent,
            Comment = deletes.Contains("comment") ? null : comment ?? group.Comment,
            Stateful = deletes.Contains("stateful") ? null : switches?.Stateful ?? group.Stateful,
            Infra = deletes.Contains("infra") ? null : switches?.Infra ?? group.Infra,
            Audit = deletes.Contains("audit") ? null : switches?.Audit ?? group.Audit,
        };
        if (mark is { } m && m != group.Mark) EnsureMarkFree(config, m, name);
        config = config.Put(updated);
        if (updated.Mark != group.Mark)
        {
            EnsureRederivedIdsFree(config, group, updated.Mark);
            config = config.RederiveRuleIds(name);
        }
        return (config, updated);
    }

    /// <summary>A rule id re-derived from a new mark must not be the id of an object of another
    /// type: the file could not be read back (ids are unique across types).</summary>
    private static void EnsureRederivedIdsFree(PolicyConfig config, Group group, int? mark)
    {
        foreach (var rule in config.Rules.Values.Where(r => r.Src == group.Name || r.Dst == group.Name))
        {
            if (config.DerivedRuleId(rule.Key) is not { } id || id == rule.Id) continue;
            if (config.FindAnyType(id) is { } other && other.Type != ObjectType.Rule)
                throw Refused(ObjectType.Group, group.Name, "mark",
                    $"mark {mark} would re-derive the id of rule '{rule.Id}' ({rule.Key}) to '{id}', which is the id of {ConfigProblem.Describe(other.Type, other.Id)} (ids are unique across types)");
        }
    }

    private static void EnsureMarkFree(PolicyConfig config, int mark, string group)
    {
        if (config.Groups.Values.FirstOrDefault(g => g.Mark == mark && g.Name != group) is { } other)
            throw Refused(ObjectType.Group, group, "mark", $"mark {mark} is already used by group '{other.Name}'");
    }

    // ---- rules ------------------------------------------------------------------------------

    /// <summary>The service a front end was given as text (proto, dport; both null: none), or
    /// an edit refusal with one problem per field (unknown protocol, port out of range, a
    /// reversed range, a dport without tcp, udp or sctp).</summary>
    public static Service? ParseService(string? proto, string? dport)
    {
        var (service, problems) = Service.Parse(proto, dport);
        Ensure([.. problems.Select(p => Problem(ObjectType.Rule, null, p.Field, p.Message))]);
        return service;
    }

    /// <summary>Src null = untagged. The id derives from the key; a hand-written group without
    /// a mark gets one now, as commit would give it.</summary>
    public static (PolicyConfig Config, Rule Rule) AddRule(PolicyConfig config, RuleKey key, RuleAction action, string? comment)
    {
        Ensure(ValueProblems(ObjectType.Rule, null, ("src", key.Src), ("dst", key.Dst), ("comment", comment)));
        var problems = new List<ConfigProblem>();
        if (key.Service?.Problem() is { } serviceProblem) problems.Add(Problem(ObjectType.Rule, null, serviceProblem.Field, serviceProblem.Message));
        if (key.Src is { } src && !config.Groups.ContainsKey(src)) problems.Add(Problem(ObjectType.Rule, null, "src", $"unknown group '{Text.Clip(src)}'"));
        if (!config.Groups.ContainsKey(key.Dst)) problems.Add(Problem(ObjectType.Rule, null, "dst", $"unknown group '{Text.Clip(key.Dst)}'"));
        Ensure(problems);
        (config, _) = Marks.AssignMissing(config);
        var id = config.DerivedRuleId(key)!;
        if (config.RuleWithKey(key) is { } existing)
            throw new ConfigEditException([Problem(ObjectType.Rule, id, "dst", $"rule '{existing.Id}' already covers {key}")], existing);
        EnsureFreeId(config, ObjectType.Rule, id, "dst");
        var rule = new Rule(id, key, action, comment);
        return (config.Put(rule), rule);
    }

    public static (PolicyConfig Config, Rule Rule) UpdateRule(PolicyConfig config, string id, RuleAction? action, string? comment, IReadOnlySet<string> deletes)
    {
        var rule = Existing<Rule>(config, ObjectType.Rule, id);
        Ensure(ValueProblems(ObjectType.Rule, id, ("comment", comment)));
        var updated = rule with
        {
            Action = action ?? rule.Action,
            Comment = deletes.Contains("comment") ? null : comment ?? rule.Comment,
        };
        return (config.Put(updated), updated);
    }

    // ---- assignments ------------------------------------------------------------------------

    /// <summary>An unknown group is Validation's to refuse, as for a group's parent.</summary>
    public static (PolicyConfig Config, Assignment Assignment) AddAssignment(PolicyConfig config, long vmid, long iface, string group)
    {
        Ensure(ValueProblems(ObjectType.Assignment, null, ("group", group)));
        var assignment = new Assignment(vmid, iface, group);
        if (config.Assignments.GetValueOrDefault(assignment.Id) is { } existing)
            throw new ConfigEditException([Problem(ObjectType.Assignment, assignment.Id, "vmid", $"assignment '{assignment.Id}' already exists")], existing);
        EnsureFreeId(config, ObjectType.Assignment, assignment.Id, "vmid");
        return (config.Put(assignment), assignment);
    }

    public static (PolicyConfig Config, Assignment Assignment) UpdateAssignment(PolicyConfig config, string id, string? group)
    {
        var assignment = Existing<Assignment>(config, ObjectType.Assignment, id);
        Ensure(ValueProblems(ObjectType.Assignment, id, ("group", group)));
        var updated = assignment with { Group = group ?? assignment.Group };
        return (config.Put(updated), updated);
    }

    // ---- bridges ----------------------------------------------------------------------------

    public static (PolicyConfig Config, Bridge Bridge) AddBridge(PolicyConfig config, string name, ValueList<string> nodes)
    {
        Ensure(ValueProblems(ObjectType.Bridge, name, Listed("nodes", nodes)));
        Ensure(BridgeProblems(name));
        EnsureFreeId(config, ObjectType.Bridge, name);
        var bridge = new Bridge(name, nodes);
        return (config.Put(bridge), bridge);
    }

    /// <summary>Nodes null keeps them; empty = every node.</summary>
    public static (PolicyConfig Config, Bridge Bridge) UpdateBridge(PolicyConfig config, string name, ValueList<string>? nodes)
    {
        var bridge = Existing<Bridge>(config, ObjectType.Bridge, name);
        Ensure(ValueProblems(ObjectType.Bridge, name, Listed("nodes", nodes)));
        var updated = bridge with { Nodes = nodes ?? bridge.Nodes };
        return (config.Put(updated), updated);
    }

    // ---- forwarders -------------------------------------------------------------------------

    /// <summary>Nodes null or empty = every node.</summary>
    public static (PolicyConfig Config, Forwarder Forwarder) AddForwarder(PolicyConfig config, string name, string router, ValueList<string> physical, ForwarderMode mode, ValueList<string>? nodes = null)
    {
        Ensure(ValueProblems(ObjectType.Forwarder, name, [("router", router), .. Listed("physical", physical), .. Listed("nodes", nodes)]));
        Ensure(ForwarderProblems(name, router, physical));
        EnsureFreeId(config, ObjectType.Forwarder, name);
        var forwarder = new Forwarder(name, router, physical, mode, nodes ?? ValueList<string>.Empty);
        return (config.Put(forwarder), forwarder);
    }

    /// <summary>Null arguments keep a property; nodes empty = every node.</summary>
    public static (PolicyConfig Config, Forwarder Forwarder) UpdateForwarder(PolicyConfig config, string name, string? router, ValueList<string>? physical, ForwarderMode? mode, ValueList<string>? nodes = null)
    {
        var forwarder = Existing<Forwarder>(config, ObjectType.Forwarder, name);
        Ensure(ValueProblems(ObjectType.Forwarder, name, [("router", router), .. Listed("physical", physical), .. Listed("nodes", nodes)]));
        Ensure(ForwarderProblems(null, router, physical));
        var updated = forwarder with { Router = router ?? forwarder.Router, Physical = physical ?? forwarder.Physical, Mode = mode ?? forwarder.Mode, Nodes = nodes ?? forwarder.Nodes };
        return (config.Put(updated), updated);
    }

    // ---- any type ---------------------------------------------------------------------------

    /// <summary>Removes the object; what still names it is Validation's to refuse.</summary>
    public static PolicyConfig Delete(PolicyConfig config, ObjectType type, string id)
    {
        Existing<IConfigObject>(config, type, id);
        return config.Remove(type, id);
    }

    public static T Existing<T>(PolicyConfig config, ObjectType type, string id) where T : class, IConfigObject =>
        config.Find(type, id) as T ?? throw new MissingObjectException(type, id);

    private static void EnsureFreeId(PolicyConfig config, ObjectType type, string id, string? field = null)
    {
        if (config.IdTakenProblem(type, id) is { } problem) throw Refused(type, id, field, problem);
    }

    private static void Ensure(IReadOnlyList<ConfigProblem> problems)
    {
        if (problems.Count > 0) throw new ConfigEditException(problems);
    }

    private static ConfigEditException Refused(ObjectType type, string id, string? field, string message) =>
        new([Problem(type, id, field, message)]);

    private static ConfigProblem Problem(ObjectType type, string? id, string? field, string message) =>
        new("", id is null ? null : ConfigProblem.Describe(type, id), message, field);

    private static IReadOnlyList<ConfigProblem> Problems(ObjectType type, string? id, params (string? Field, string? Message)[] checks) =>
        [.. checks.Where(c => c.Message is not null).Select(c => Problem(type, id, c.Field, c.Message!))];
}
