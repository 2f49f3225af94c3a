// Random group forests with random rule sets, for the property tests of the engine.
using Microseg.Policy;

namespace Microseg.Policy.Tests;

internal static class RandomPolicies
{
    public const int MaxDepth = 8;

    /// <summary>A forest of 1..maxGroups groups (at most <see cref="MaxDepth"/> ancestors each)
    /// with distinct random marks and random rules with derived ids. With
    /// <paramref name="ties"/>, some (src, dst) pairs get a second rule under another id, which
    /// only a damaged config has; the config is built with PolicyConfig.Create, bypassing
    /// validation.</summary>
    public static PolicyConfig Forest(Random rng, int maxGroups, bool ties) => Forest(rng, maxGroups, ties, services: false);

    /// <summary>Ports that service rules and packets are drawn from: both ends of the port
    /// space and clusters of neighbours, so that ranges overlap, touch and share ends.</summary>
    public static readonly ushort[] Ports = [1, 2, 21, 22, 23, 52, 53, 54, 79, 80, 81, 443, 8000, 8079, 8080, 8081, 65534, 65535];

    /// <summary>The protocols service rules name: three with ports, icmp, and an unnamed one.</summary>
    public static readonly byte[] Protocols = [Service.Tcp, Service.Udp, Service.Sctp, Service.Icmp, 47];

    public static Service RandomService(Random rng)
    {
        var proto = Protocols[rng.Next(Protocols.Length)];
        if (!Service.HasPorts(proto) || rng.Next(4) == 0) return new Service(proto);
        var a = Ports[rng.Next(Ports.Length)];
        var b = rng.Next(3) == 0 ? a : Ports[rng.Next(Ports.Length)];
        return new Service(proto, new PortRange(Math.Min(a, b), Math.Max(a, b)));
    }

    /// <summary>With <paramref name="services"/>, about half of the rules name a random service
    /// (<see cref="RandomService"/>), and a pair often gets several rules.</summary>
    public static PolicyConfig Forest(Random rng, int maxGroups, bool ties, bool services)
    {
        int n = rng.Next(1, maxGroups + 1);
        var names = new string[n];
        var depth = new int[n];
        var parents = new string?[n];
        for (int i = 0; i < n; i++)
        {
            // Random letters first, so name order and tree order differ.
            names[i] = $"{(char)('a' + rng.Next(26))}{(char)('a' + rng.Next(26))}{i}";
            var eligible = Enumerable.Range(0, i).Where(j => depth[j] < MaxDepth).ToList();
            int roll = rng.Next(10);
            if (eligible.Count == 0 || roll < 2) { parents[i] = null; depth[i] = 0; continue; }
            // Often hang off the newest group so that deep chains are common.
            int p = roll < 6 && depth[i - 1] < MaxDepth ? i - 1 : eligible[rng.Next(eligible.Count)];
            parents[i] = names[p];
            depth[i] = depth[p] + 1;
        }
        var marks = new HashSet<int>();
        while (marks.Count < n) marks.Add(rng.Next(1, 65536));
        var markList = marks.ToArray();
        var groups = Enumerable.Range(0, n).Select(i => new Group(names[i], markList[i], parents[i])).ToList();
        var markOf = groups.ToDictionary(g => g.Name, g => g.Mark!.Value);

        var rules = new Dictionary<string, Rule>();
        var pairs = new HashSet<RuleKey>();
        int ruleCount = rng.Next(0, (services ? 6 : 3) * n + 1);
        int tieNo = 0;
        for (int k = 0; k < ruleCount; k++)
        {
            string? src = rng.Next(5) == 0 ? null : names[rng.Next(n)];
            string dst = names[rng.Next(n)];
            var action = rng.Next(2) == 0 ? RuleAction.Allow : RuleAction.Deny;
            var key = new RuleKey(src, dst, services && rng.Next(2) == 0 ? RandomService(rng) : null);
            var id = key.Id(src is null ? 0 : markOf[src], markOf[dst]);
            if (pairs.Add(key)) rules[id] = new Rule(id, key, action);
            else if (ties && rng.Next(2) == 0)
            {
                var tieId = $"tie{tieNo++}";
                rules[tieId] = new Rule(tieId, key, action);
            }
            // Several port rules of one protocol on one pair: ranges that overlap (a tie when
            // their actions differ), touch, or leave gaps.
            if (services && rng.Next(3) == 0)
                for (int extra = rng.Next(1, 4); extra > 0; extra--)
                {
                    var a = Ports[rng.Next(Ports.Length)];
                    var b = Ports[rng.Next(Ports.Length)];
                    var more = key with { Service = new Service(Service.Tcp, new PortRange(Math.Min(a, b), Math.Max(a, b))) };
                    var moreId = more.Id(src is null ? 0 : markOf[src], markOf[dst]);
                    if (pairs.Add(more)) rules[moreId] = new Rule(moreId, more, rng.Next(2) == 0 ? RuleAction.Allow : RuleAction.Deny);
                }
        }
        return PolicyConfig.Create(groups, rules.Values);
    }

    /// <summary>The same forest and rules with new distinct marks: some on the given
    /// boundaries (word and space ends), some packed next to each other (several sources in
    /// one word), the rest anywhere in 1..65535. Rule ids are kept.</summary>
    public static PolicyConfig Remark(PolicyConfig config, Random rng, int[] boundaries)
    {
        const int markSpace = ushort.MaxValue + 1;
        var used = new HashSet<int>();
        int cluster = rng.Next(1, markSpace);
        var groups = new List<Group>();
        foreach (var g in config.Groups.Values)
        {
            int mark;
            do
            {
                mark = rng.Next(3) switch
                {
                    0 => boundaries[rng.Next(boundaries.Length)],
                    1 => Math.Clamp(cluster + rng.Next(-70, 71), 1, ushort.MaxValue),
                    _ => rng.Next(1, markSpace),
                };
            } while (!used.Add(mark));
            groups.Add(g with { Mark = mark });
        }
        return PolicyConfig.Create(groups, config.Rules.Values);
    }
}
