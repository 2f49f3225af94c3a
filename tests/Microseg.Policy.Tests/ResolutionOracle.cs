// SPEC §4 written out the slow, obvious way, to check the engine against: candidates are the
// rules whose dst is D or an ancestor of D and whose src is S or an ancestor of S (absent src
// only for untagged, untagged only absent src); the smallest (dst_dist, src_dist) wins; on a
// tie deny wins; no candidate is deny.
using Microseg.Policy;

namespace Microseg.Policy.Tests;

internal static class ResolutionOracle
{
    public sealed record OracleCandidate(Rule Rule, int DstDistance, int SrcDistance);

    /// <summary>The group and its ancestors; the index is the distance.</summary>
    public static List<string> Ancestry(PolicyConfig config, string group)
    {
        var chain = new List<string>();
        for (string? g = group; g is not null; g = config.Groups[g].Parent) chain.Add(g);
        return chain;
    }

    public static List<OracleCandidate> Candidates(PolicyConfig config, string? src, string dst)
    {
        var dstUp = Ancestry(config, dst);
        var srcUp = src is null ? null : Ancestry(config, src);
        var result = new List<OracleCandidate>();
        foreach (var rule in config.Rules.Values)
        {
            int dd = dstUp.IndexOf(rule.Dst);
            if (dd < 0) continue;
            if (srcUp is null)
            {
                if (rule.Src is null) result.Add(new OracleCandidate(rule, dd, 0));
            }
            else if (rule.Src is not null)
            {
                int ds = srcUp.IndexOf(rule.Src);
                if (ds >= 0) result.Add(new OracleCandidate(rule, dd, ds));
            }
        }
        return result;
    }

    /// <summary>The candidates sharing the smallest distance pair (empty when none).</summary>
    public static List<OracleCandidate> Winners(List<OracleCandidate> candidates)
    {
        if (candidates.Count == 0) return [];
        var best = candidates.Min(c => (c.DstDistance, c.SrcDistance));
        return [.. candidates.Where(c => (c.DstDistance, c.SrcDistance) == best)];
    }

    public static RuleAction Verdict(PolicyConfig config, string? src, string dst)
    {
        var winners = Winners(Candidates(config, src, dst).Where(c => c.Rule.Service is null).ToList());
        return winners.Count > 0 && winners.All(w => w.Rule.Action == RuleAction.Allow) ? RuleAction.Allow : RuleAction.Deny;
    }

    // Services, as the text says: a rule with a service matches only packets of its protocol,
    // and with ports only packets that have a port inside them; the candidates that match are
    // ordered by (dst_dist, src_dist, specificity) with specificity 0 with ports, 1 protocol
    // only, 2 none; the smallest wins, a tie denies, no candidate denies.

    public static bool Matches(Rule rule, Packet packet)
    {
        if (rule.Service is not { } s) return true;
        if (packet.Proto != s.Proto) return false;
        if (s.Ports is not { } range) return true;
        return packet.Port is { } port && port >= range.Lo && port <= range.Hi;
    }

    public static int Specificity(Rule rule) => rule.Service is null ? 2 : rule.Service.Ports is null ? 1 : 0;

    public static RuleAction Verdict(PolicyConfig config, string? src, string dst, Packet packet)
    {
        var matching = Candidates(config, src, dst).Where(c => Matches(c.Rule, packet)).ToList();
        if (matching.Count == 0) return RuleAction.Deny;
        var best = matching.Min(c => (c.DstDistance, c.SrcDistance, Specificity(c.Rule)));
        var winners = matching.Where(c => (c.DstDistance, c.SrcDistance, Specificity(c.Rule)) == best).ToList();
        return winners.All(w => w.Rule.Action == RuleAction.Allow) ? RuleAction.Allow : RuleAction.Deny;
    }
}
