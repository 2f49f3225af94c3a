// Random configurations of every object type, valid or not, whose values the file format can
// hold (no line breaks, no whitespace at either end of a value, ids unique across types).
using System.Collections.Immutable;
using Microseg.Policy;

namespace Microseg.Policy.Tests;

internal static class RandomConfigs
{
    private const string Letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private const string NameChars = Letters + "0123456789_-";
    private static readonly string[] Words = ["web", "db", "tier", "café", "Grüße", "日本", "x  y", "#hash", "p10-20", "✓", "🙂", ":", "=", "'q'", "\"dq\""];

    public static string Name(Random rng, string prefix)
    {
        var len = rng.Next(0, 12);
        var chars = new char[len];
        for (int i = 0; i < len; i++) chars[i] = NameChars[rng.Next(NameChars.Length)];
        return prefix + new string(chars);
    }

    /// <summary>Free text that a value can hold: inner spaces, no control characters (no tab,
    /// no line break), no whitespace at either end.</summary>
    public static string Text(Random rng)
    {
        var words = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => Words[rng.Next(Words.Length)]);
        return string.Join(rng.Next(3) == 0 ? "  " : " ", words);
    }

    private static ValueList<string> List(Random rng, string prefix, int min) =>
        new(Enumerable.Range(0, rng.Next(min, 4)).Select(_ => Name(rng, prefix)));

    public static PolicyConfig Any(Random rng, bool withComments = true)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        string Unique(string prefix)
        {
            while (true) { var id = Name(rng, prefix); if (ids.Add(id)) return id; }
        }

        var groups = new List<Group>();
        for (int i = rng.Next(0, 8); i > 0; i--)
            groups.Add(new Group(Unique("g"),
                rng.Next(4) == 0 ? null : rng.Next(0, 100_000),
                rng.Next(2) == 0 ? null : Name(rng, "g"),
                rng.Next(2) == 0 ? null : Text(rng),
                Switch(rng), Switch(rng), Switch(rng)));
        var rules = new List<Rule>();
        for (int i = rng.Next(0, 8); i > 0; i--)
            rules.Add(new Rule(Unique("p"),
                rng.Next(3) == 0 ? null : Name(rng, "g"),
                Name(rng, "g"),
                rng.Next(2) == 0 ? RuleAction.Allow : RuleAction.Deny,
                rng.Next(2) == 0 ? null : Text(rng),
                rng.Next(2) == 0 ? null : Service(rng)));
        var assignments = new List<Assignment>();
        for (int i = rng.Next(0, 6); i > 0; i--)
        {
            var a = new Assignment(rng.Next(0, int.MaxValue), rng.Next(0, 40), Name(rng, "g"));
            if (ids.Add(a.Id)) assignments.Add(a);
        }
        var bridges = new List<Bridge>();
        for (int i = rng.Next(0, 4); i > 0; i--)
            bridges.Add(new Bridge(Unique("b"), rng.Next(2) == 0 ? ValueList<string>.Empty : List(rng, "n", 1)));
        var forwarders = new List<Forwarder>();
        for (int i = rng.Next(0, 3); i > 0; i--)
            forwarders.Add(new Forwarder(Unique("f"), Name(rng, "r"),
                rng.Next(4) == 0 ? new ValueList<string>(["*"]) : List(rng, "e", 1),
                rng.Next(2) == 0 ? ForwarderMode.Skb : ForwarderMode.Native,
                rng.Next(2) == 0 ? ValueList<string>.Empty : List(rng, "n", 1)));

        var config = PolicyConfig.Create(groups, rules, assignments, bridges, forwarders);
        if (!withComments) return config;

        var comments = ImmutableDictionary.CreateBuilder<string, ImmutableArray<string>>();
        foreach (var obj in config.Objects)
            if (rng.Next(3) == 0)
                comments[SourceInfo.Key(obj.Type, obj.Id)] = [.. Enumerable.Range(0, rng.Next(1, 3)).Select(_ => Comment(rng))];
        ImmutableArray<string> trailing = rng.Next(3) == 0 ? [Comment(rng)] : [];
        return config.WithComments(comments.ToImmutable(), trailing);
    }

    private static bool? Switch(Random rng) => rng.Next(3) switch { 0 => null, 1 => false, _ => true };

    /// <summary>A service the file can hold: any protocol number, ports only on tcp, udp and
    /// sctp, single ports and ranges, both ends of the port space.</summary>
    public static Service Service(Random rng)
    {
        byte[] protos = [Policy.Service.Tcp, Policy.Service.Udp, Policy.Service.Sctp, Policy.Service.Icmp, Policy.Service.Icmpv6, 0, 47, 255];
        var proto = rng.Next(4) == 0 ? (byte)rng.Next(256) : protos[rng.Next(protos.Length)];
        if (!Policy.Service.HasPorts(proto) || rng.Next(3) == 0) return new Service(proto);
        ushort Port() => rng.Next(4) switch { 0 => 1, 1 => 65535, _ => (ushort)rng.Next(1, 65536) };
        var a = Port();
        var b = rng.Next(2) == 0 ? a : Port();
        return new Service(proto, new PortRange(Math.Min(a, b), Math.Max(a, b)));
    }

    private static string Comment(Random rng) => rng.Next(4) switch
    {
        0 => "#",
        1 => "  # " + Text(rng),
        _ => "# " + Text(rng),
    };
}
