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
    public static PolicyConfig Forest(Random rng, int maxGroups, bool ties)
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
        var pairs = new HashSet<(string?, string)>();
        int ruleCount = rng.Next(0, 3 * n + 1);
        int tieNo = 0;
        for (int k = 0; k < ruleCount; k++)
        {
            string? src = rng.Next(5) == 0 ? null : names[rng.Next(n)];
            string dst = names[rng.Next(n)];
            var action = rng.Next(2) == 0 ? RuleAction.Allow : RuleAction.Deny;
            var id = new RuleKey(src, dst).Id(src is null ? 0 : markOf[src], markOf[dst]);
            if (pairs.Add((src, dst))) rules[id] = new Rule(id, src, dst, action);
            else if (ties && rng.Next(2) == 0)
            {
                var tieId = $"tie{tieNo++}";
                rules[tieId] = new Rule(tieId, src, dst, action);
            }
        }
        return PolicyConfig.Create(groups, rules.Values);
    }
}
