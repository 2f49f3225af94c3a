// The configuration model shared by the pending file, the snapshot, the engine and the agent.
using System.Collections;

namespace Microseg.Policy;

public enum RuleAction { Deny = 0, Allow = 1 }

public enum ForwarderMode { Skb, Native }

/// <summary>The object types of a config, in the order they are written.</summary>
public enum ObjectType { Group, Rule, Assignment, Bridge, Forwarder }

public static class ObjectTypes
{
    public static readonly IReadOnlyList<ObjectType> All =
        [ObjectType.Group, ObjectType.Rule, ObjectType.Assignment, ObjectType.Bridge, ObjectType.Forwarder];

    public static string Name(this ObjectType type) => type switch
    {
        ObjectType.Group => "group",
        ObjectType.Rule => "rule",
        ObjectType.Assignment => "assignment",
        ObjectType.Bridge => "bridge",
        ObjectType.Forwarder => "forwarder",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static bool TryParse(string name, out ObjectType type)
    {
        foreach (var t in All)
            if (t.Name() == name) { type = t; return true; }
        type = default;
        return false;
    }
}

/// <summary>An immutable list with value equality, so records holding lists compare by content.</summary>
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[] items;

    public ValueList(IEnumerable<T> items) => this.items = items.ToArray();

    public static ValueList<T> Empty { get; } = new([]);

    public T this[int index] => items[index];
    public int Count => items.Length;
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => items.GetEnumerator();

    public bool Equals(ValueList<T>? other) => other is not null && items.AsSpan().SequenceEqual(other.items);
    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in items) hash.Add(item);
        return hash.ToHashCode();
    }
    public override string ToString() => string.Join(",", items);
}

public interface IConfigObject
{
    ObjectType Type { get; }
    string Id { get; }
}

/// <summary>A named set of guest NICs. Mark null = not chosen yet (commit assigns one). The
/// switches (stateful replies, infrastructure traffic, audit) are null when unset: the group
/// inherits them from its parent, and a root from <see cref="GroupSwitches.Default"/>.</summary>
public sealed record Group(string Name, int? Mark = null, string? Parent = null, string? Comment = null,
                           bool? Stateful = null, bool? Infra = null, bool? Audit = null) : IConfigObject
{
    public ObjectType Type => ObjectType.Group;
    public string Id => Name;
}

/// <summary>The switches a group's NICs run with, after inheritance.</summary>
public readonly record struct GroupSwitches(bool Stateful, bool Infra, bool Audit)
{
    /// <summary>What a root group without settings gets: replies tracked, infrastructure
    /// traffic (ARP, ND, DHCP) passed, no audit.</summary>
    public static GroupSwitches Default => new(Stateful: true, Infra: true, Audit: false);

    /// <summary>The names of the switches, as the file, the snapshot, the CLI and the API spell them.</summary>
    public static readonly IReadOnlyList<string> Keys = ["stateful", "infra", "audit"];
}

/// <summary>What a rule is about, and so what makes it itself: at most one rule per key, and
/// its id derives from the key. Src null = untagged traffic; Service null = every packet.
/// Everything that asks "which rule is this" (ids, duplicate checks, the engine's index) asks
/// the key.</summary>
public sealed record RuleKey(string? Src, string Dst, Service? Service = null)
{
    /// <summary>The rule's id from the marks of its groups: p{src_mark}-{dst_mark}, src_mark 0
    /// for untagged, then -{proto}{ports} when the rule has a service (p10-20-tcp5432,
    /// p10-20-udp8000-8080, p10-20-icmp, p10-20-47).</summary>
    public string Id(int srcMark, int dstMark) =>
        Service is { } s ? $"p{srcMark}-{dstMark}-{s.IdPart}" : $"p{srcMark}-{dstMark}";

    /// <summary>The groups of a rule whose key is this one: the engine's index.</summary>
    public (string? Src, string Dst) Groups => (Src, Dst);

    /// <summary>As messages name it: "db -> web", "untagged -> web", "web -> db tcp/5432".</summary>
    public override string ToString() => $"{Src ?? Names.Untagged} -> {Dst}" + (Service is { } s ? " " + s : "");
}

/// <summary>key → action. Id is the one the file gives; <see cref="PolicyConfig.DerivedRuleId"/>
/// says what it must be.</summary>
public sealed record Rule(string Id, RuleKey Key, RuleAction Action, string? Comment = null) : IConfigObject
{
    public Rule(string Id, string? Src, string Dst, RuleAction Action, string? Comment = null, Service? Service = null)
        : this(Id, new RuleKey(Src, Dst, Service), Action, Comment) { }

    public ObjectType Type => ObjectType.Rule;
    public string? Src => Key.Src;
    public string Dst => Key.Dst;
    public Service? Service => Key.Service;
}

/// <summary>Binds guest NIC (vmid, iface) to a group; the id is derived.</summary>
public sealed record Assignment(long Vmid, long Iface, string Group) : IConfigObject
{
    public ObjectType Type => ObjectType.Assignment;
    public string Id => DerivedId(Vmid, Iface);
    public static string DerivedId(long vmid, long iface) => $"vm{vmid}i{iface}";
}

/// <summary>A carrier interface facing the underlay; Nodes empty = every node.</summary>
public sealed record Bridge(string Name, ValueList<string> Nodes) : IConfigObject
{
    public ObjectType Type => ObjectType.Bridge;
    public string Id => Name;
    public bool AppliesTo(string node) => Nodes.Count == 0 || Nodes.Contains(node);
}

/// <summary>An XDP forwarding set (SPEC §7). Physical ["*"] = every interface but lo and the
/// router. Nodes: the nodes it applies to, as a bridge's; empty (or null) = every node.</summary>
public sealed record Forwarder(string Name, string Router, ValueList<string> Physical, ForwarderMode Mode, ValueList<string> Nodes) : IConfigObject
{
    public Forwarder(string Name, string Router, ValueList<string> Physical, ForwarderMode Mode = ForwarderMode.Skb)
        : this(Name, Router, Physical, Mode, ValueList<string>.Empty) { }

    public ObjectType Type => ObjectType.Forwarder;
    public string Id => Name;
    public bool AppliesTo(string node) => Nodes.Count == 0 || Nodes.Contains(node);
}
