// One whole configuration (pending or committed): objects by type, each type ordered by id.
using System.Collections.Immutable;

namespace Microseg.Policy;

/// <summary>Where an object came from, for messages that name file and line.</summary>
public sealed record SourceInfo(string File, IReadOnlyDictionary<string, int> Lines)
{
    public static string Key(ObjectType type, string id) => $"{type.Name()}:{id}";

    public string Locate(ObjectType type, string id) =>
        Lines.TryGetValue(Key(type, id), out var line) ? $"{File}:{line}" : File;
}

public sealed class PolicyConfig
{
    private static readonly ImmutableSortedDictionary<string, Group> NoGroups = ImmutableSortedDictionary.Create<string, Group>(StringComparer.Ordinal);
    private static readonly ImmutableSortedDictionary<string, Rule> NoRules = ImmutableSortedDictionary.Create<string, Rule>(StringComparer.Ordinal);
    private static readonly ImmutableSortedDictionary<string, Assignment> NoAssignments = ImmutableSortedDictionary.Create<string, Assignment>(StringComparer.Ordinal);
    private static readonly ImmutableSortedDictionary<string, Bridge> NoBridges = ImmutableSortedDictionary.Create<string, Bridge>(StringComparer.Ordinal);
    private static readonly ImmutableSortedDictionary<string, Forwarder> NoForwarders = ImmutableSortedDictionary.Create<string, Forwarder>(StringComparer.Ordinal);

    public static PolicyConfig Empty { get; } = new();

    private PolicyConfig() { }

    public ImmutableSortedDictionary<string, Group> Groups { get; private set; } = NoGroups;
    public ImmutableSortedDictionary<string, Rule> Rules { get; private set; } = NoRules;
    public ImmutableSortedDictionary<string, Assignment> Assignments { get; private set; } = NoAssignments;
    public ImmutableSortedDictionary<string, Bridge> Bridges { get; private set; } = NoBridges;
    public ImmutableSortedDictionary<string, Forwarder> Forwarders { get; private set; } = NoForwarders;

    /// <summary>Comment lines written above an object's section, keyed by <see cref="SourceInfo.Key"/>.</summary>
    public ImmutableDictionary<string, ImmutableArray<string>> Comments { get; private set; } = ImmutableDictionary<string, ImmutableArray<string>>.Empty;

    /// <summary>Comment lines after the last section.</summary>
    public ImmutableArray<string> TrailingComments { get; private set; } = [];

    /// <summary>File and lines the objects were read from; null for a config built in code.</summary>
    public SourceInfo? Source { get; private set; }

    public static PolicyConfig Create(
        IEnumerable<Group>? groups = null,
        IEnumerable<Rule>? rules = null,
        IEnumerable<Assignment>? assignments = null,
        IEnumerable<Bridge>? bridges = null,
        IEnumerable<Forwarder>? forwarders = null) => new()
        {
            Groups = NoGroups.AddRange((groups ?? []).Select(g => KeyValuePair.Create(g.Id, g))),
            Rules = NoRules.AddRange((rules ?? []).Select(r => KeyValuePair.Create(r.Id, r))),
            Assignments = NoAssignments.AddRange((assignments ?? []).Select(a => KeyValuePair.Create(a.Id, a))),
            Bridges = NoBridges.AddRange((bridges ?? []).Select(b => KeyValuePair.Create(b.Id, b))),
            Forwarders = NoForwarders.AddRange((forwarders ?? []).Select(f => KeyValuePair.Create(f.Id, f))),
        };

    public PolicyConfig WithSource(SourceInfo? source) => Copy(c => c.Source = source);

    internal PolicyConfig WithComments(ImmutableDictionary<string, ImmutableArray<string>> comments, ImmutableArray<string> trailing) =>
        Copy(c => { c.Comments = comments; c.TrailingComments = trailing; });

    /// <summary>All objects, in written order: by type, then by id.</summary>
    public IEnumerable<IConfigObject> Objects =>
        Groups.Values.Cast<IConfigObject>()
            .Concat(Rules.Values).Concat(Assignments.Values).Concat(Bridges.Values).Concat(Forwarders.Values);

    public int Count => Groups.Count + Rules.Count + Assignments.Count + Bridges.Count + Forwarders.Count;

    public IConfigObject? Find(ObjectType type, string id) => type switch
    {
        ObjectType.Group => Groups.GetValueOrDefault(id),
        ObjectType.Rule => Rules.GetValueOrDefault(id),
        ObjectType.Assignment => Assignments.GetValueOrDefault(id),
        ObjectType.Bridge => Bridges.GetValueOrDefault(id),
        ObjectType.Forwarder => Forwarders.GetValueOrDefault(id),
        _ => null,
    };

    /// <summary>The object of any type with this id (ids are unique across types), or null.</summary>
    public IConfigObject? FindAnyType(string id) =>
        ObjectTypes.All.Select(t => Find(t, id)).FirstOrDefault(o => o is not null);

    /// <summary>Why a new object of <paramref name="type"/> cannot take <paramref name="id"/>
    /// (ids are unique across types), or null when it is free.</summary>
    public string? IdTakenProblem(ObjectType type, string id) => FindAnyType(id) switch
    {
        null => null,
        { } existing when existing.Type == type => $"{type.Name()} '{Text.Clip(id)}' already exists",
        { } existing => $"id '{Text.Clip(id)}' is already used by a {existing.Type.Name()} (ids are unique across types)",
    };

    public static string MissingProblem(ObjectType type, string id) =>
        $"{type.Name()} '{Text.Clip(id)}' does not exist in the pending config";

    /// <summary>Adds or replaces the object with this id (the id of a rule is the one it carries).</summary>
    public PolicyConfig Put(IConfigObject obj) => obj switch
    {
        Group g => Copy(c => c.Groups = Groups.SetItem(g.Id, g)),
        Rule r => Copy(c => c.Rules = Rules.SetItem(r.Id, r)),
        Assignment a => Copy(c => c.Assignments = Assignments.SetItem(a.Id, a)),
        Bridge b => Copy(c => c.Bridges = Bridges.SetItem(b.Id, b)),
        Forwarder f => Copy(c => c.Forwarders = Forwarders.SetItem(f.Id, f)),
        _ => throw new ArgumentException($"unknown config object {obj.GetType().Name}", nameof(obj)),
    };

    /// <summary>Removes the object and the comments written above it.</summary>
    public PolicyConfig Remove(ObjectType type, string id) => Copy(c =>
    {
        switch (type)
        {
            case ObjectType.Group: c.Groups = Groups.Remove(id); break;
            case ObjectType.Rule: c.Rules = Rules.Remove(id); break;
            case ObjectType.Assignment: c.Assignments = Assignments.Remove(id); break;
            case ObjectType.Bridge: c.Bridges = Bridges.Remove(id); break;
            case ObjectType.Forwarder: c.Forwarders = Forwarders.Remove(id); break;
        }
        c.Comments = Comments.Remove(SourceInfo.Key(type, id));
    });

    /// <summary>Replaces a rule by the same rule under another id, keeping the comment lines
    /// written above it (a mark change re-derives rule ids).</summary>
    public PolicyConfig RenameRule(string oldId, string newId)
    {
        var rule = Rules[oldId];
        var comments = Comments.TryGetValue(SourceInfo.Key(ObjectType.Rule, oldId), out var c) ? c : default;
        var renamed = Remove(ObjectType.Rule, oldId).Put(rule with { Id = newId });
        return comments.IsDefault ? renamed : renamed.Copy(x => x.Comments = x.Comments.SetItem(SourceInfo.Key(ObjectType.Rule, newId), comments));
    }

    /// <summary>Rule ids are p{src_mark}-{dst_mark}: after a group's mark changes, the rules
    /// that name it take their new derived ids (keeping their comments).</summary>
    public PolicyConfig RederiveRuleIds(string group)
    {
        var config = this;
        foreach (var rule in Rules.Values.Where(r => r.Src == group || r.Dst == group))
        {
            if (config.DerivedRuleId(rule.Key) is not { } id || id == rule.Id) continue;
            config = config.RenameRule(rule.Id, id);
        }
        return config;
    }

    /// <summary>The id a rule with this key must have (<see cref="RuleKey.Id"/>). Null while a
    /// group it names has no mark yet or does not exist.</summary>
    public string? DerivedRuleId(RuleKey key)
    {
        int srcMark = 0;
        if (key.Src is not null)
        {
            if (Groups.GetValueOrDefault(key.Src)?.Mark is not { } s) return null;
            srcMark = s;
        }
        return Groups.GetValueOrDefault(key.Dst)?.Mark is { } d ? key.Id(srcMark, d) : null;
    }

    /// <summary>The rule with this key, or null (a damaged config may have more than one: the first by id).</summary>
    public Rule? RuleWithKey(RuleKey key) => Rules.Values.FirstOrDefault(r => r.Key == key);

    private PolicyConfig Copy(Action<PolicyConfig> change)
    {
        var copy = new PolicyConfig
        {
            Groups = Groups, Rules = Rules, Assignments = Assignments, Bridges = Bridges, Forwarders = Forwarders,
            Comments = Comments, TrailingComments = TrailingComments, Source = Source,
        };
        change(copy);
        return copy;
    }
}
