// The subset of a config that decides the verdicts toward some destinations (what the plug
// index carries for groups that are new on a host): the engine compiles the same verdict words
// and service entries from it as from the whole config, for random forests with services,
// while reading far fewer rules.
using System.Text;
using Microseg.Policy;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class DestinationSubsetTests
{
    [Fact]
    public void The_subset_compiles_the_same_words_and_service_entries_as_the_whole_config()
    {
        const int first = 20261128 + 6_000_000;
        int words = 0, rulesLeftOut = 0, groupsLeftOut = 0;
        for (int i = 0; i < 400; i++)
        {
            var rng = new Random(first + i);
            var config = RandomPolicies.Forest(rng, maxGroups: 40, ties: i % 2 == 1, services: true);
            var groups = config.Groups.Keys.ToArray();
            var destinations = groups.Where(_ => rng.Next(4) == 0).ToList();
            // Assignments to some destinations and to other groups: only the destinations' stay.
            var assignments = groups.Select((g, k) => new Assignment(100 + k, 0, g)).ToList();
            config = PolicyConfig.Create(config.Groups.Values, config.Rules.Values, assignments);
            try
            {
                var subset = DestinationSubset.Of(config, destinations);
                var expected = new PolicyEngine(config).CompileAll(destinations);
                var actual = new PolicyEngine(subset).CompileAll(destinations);
                Assert.Equal(expected.Words, actual.Words);
                Assert.Equal(expected.Services.Select(Describe), actual.Services.Select(Describe));
                Assert.Equal(config.Assignments.Values.Where(a => destinations.Contains(a.Group)), subset.Assignments.Values);
                foreach (var d in destinations)
                {
                    Assert.Equal(config.Groups[d], subset.Groups[d]);
                    Assert.Equal(new PolicyEngine(config).SwitchesOf(d), new PolicyEngine(subset).SwitchesOf(d));
                }
                words += expected.Words.Count;
                rulesLeftOut += config.Rules.Count - subset.Rules.Count;
                groupsLeftOut += config.Groups.Count - subset.Groups.Count;
            }
            catch (Exception e)
            {
                throw new XunitException($"seed {first + i}, destinations {string.Join(' ', destinations)}:\n{SectionConfig.Write(config)}", e);
            }
        }
        Assert.True(words > 2000, $"only {words} words compared");
        Assert.True(rulesLeftOut > 10_000, $"only {rulesLeftOut} rules left out of the subsets");
        Assert.True(groupsLeftOut > 1000, $"only {groupsLeftOut} groups left out of the subsets");
    }

    [Fact]
    public void A_rule_from_a_big_parent_brings_every_child_and_nothing_else()
    {
        var groups = new List<Group> { new("kids", 1), new("d0", 50_000), new("d1", 50_001), new("other", 3) };
        groups.AddRange(Enumerable.Range(0, 500).Select(i => new Group($"k{i}", 2 + 2 * i + 10, "kids")));
        var config = PolicyConfig.Create(groups,
            [new Rule("r0", "kids", "d0", RuleAction.Allow), new Rule("r1", "other", "d1", RuleAction.Allow)],
            [new Assignment(100, 0, "d0"), new Assignment(101, 0, "d1")]);

        var subset = DestinationSubset.Of(config, ["d0"]);

        Assert.Equal(502, subset.Groups.Count); // kids, its 500 children, d0
        Assert.DoesNotContain("other", subset.Groups.Keys);
        Assert.Equal(["r0"], subset.Rules.Keys);
        Assert.Equal(["vm100i0"], subset.Assignments.Keys);
    }

    private static string Describe(ServiceEntry e) =>
        new StringBuilder($"{e.Dst}<-{e.Src}/{e.Proto} otherwise {e.Otherwise}:").AppendJoin(',', e.Ports.Select(p => p.ToString())).ToString();
}
