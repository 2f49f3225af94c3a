// How the rules of one (source, destination) pair divide the packets by service: per protocol a
// rule names, the port line cut at every range end into intervals on which the same rules match,
// so that each interval has one verdict. Ranges are never expanded per port: k port rules give
// at most 2k intervals. Explain lists the intervals; the compiler keeps those that differ.
namespace Microseg.Policy;

/// <summary>Packets of protocol Proto from source mark Src to a NIC of group Dst, for a pair
/// whose verdict word has the Service bit: a packet with a port inside one of Ports gets that
/// range's Action; any other packet of the protocol (another port, or no port) gets Otherwise.
/// Ports are disjoint, sorted by Lo, adjacent ranges with equal actions merged, and none has
/// the action Otherwise.</summary>
public sealed record ServiceEntry(ushort Dst, ushort Src, byte Proto, RuleAction Otherwise, ValueList<PortVerdict> Ports)
{
    /// <summary>The most port ranges one entry holds in the kernel's map.</summary>
    public const int MaxPorts = 16;

    /// <summary>The verdict for a packet of this entry's protocol, as the data plane finds it.</summary>
    public RuleAction Verdict(ushort? port)
    {
        if (port is { } p)
            foreach (var r in Ports)
                if (p >= r.Lo && p <= r.Hi) return r.Action;
        return Otherwise;
    }
}

/// <summary>Ports Lo..Hi (both included) get Action.</summary>
public readonly record struct PortVerdict(ushort Lo, ushort Hi, RuleAction Action);

internal static class ServiceResolution
{
    /// <summary>The protocols the candidates' services name, in order.</summary>
    private static IEnumerable<byte> Protocols(IReadOnlyList<Candidate> candidates) =>
        candidates.Where(c => c.Rule.Service is not null).Select(c => c.Rule.Service!.Proto).Distinct().Order();

    /// <summary>For one protocol: the decision for its packets outside every port range (and
    /// without a port), and one decision per interval that some port rule covers.</summary>
    private static (PolicyEngine.Decision Otherwise, List<(int Lo, int Hi, PolicyEngine.Decision Decision)> Intervals) Split(IReadOnlyList<Candidate> candidates, byte proto)
    {
        var portless = candidates.Where(c => c.Rule.Service is null || c.Rule.Service.Proto == proto && c.Rule.Service.Ports is null).ToList();
        var ported = candidates.Where(c => c.Rule.Service is { Ports: not null } s && s.Proto == proto).ToList();
        var otherwise = PolicyEngine.Decide(portless);
        var cuts = new SortedSet<int>();
        foreach (var c in ported)
        {
            var r = c.Rule.Service!.Ports!.Value;
            cuts.Add(r.Lo);
            cuts.Add(r.Hi + 1);
        }
        var intervals = new List<(int, int, PolicyEngine.Decision)>();
        int? start = null;
        foreach (var cut in cuts)
        {
            if (start is { } lo)
            {
                var matching = ported.Where(c => c.Rule.Service!.Ports!.Value.Contains((ushort)lo)).ToList();
                if (matching.Count > 0) intervals.Add((lo, cut - 1, PolicyEngine.Decide(portless.Concat(matching))));
            }
            start = cut;
        }
        return (otherwise, intervals);
    }

    /// <summary>Per protocol that a candidate names: the verdict of each port interval that a
    /// port rule covers (adjacent intervals decided by the same rule merged), then that of the
    /// protocol's other packets.</summary>
    public static IReadOnlyList<ServiceVerdict> PerService(IReadOnlyList<Candidate> candidates)
    {
        var result = new List<ServiceVerdict>();
        foreach (var proto in Protocols(candidates))
        {
            var (otherwise, intervals) = Split(candidates, proto);
            ServiceVerdict? open = null;
            foreach (var (lo, hi, decision) in intervals)
            {
                if (open is { Service.Ports: { } o } && o.Hi + 1 == lo && open.Verdict == decision.Verdict && open.Rule == decision.Rule)
                {
                    open = open with { Service = new Service(proto, new PortRange(o.Lo, (ushort)hi)) };
                    continue;
                }
                if (open is not null) result.Add(open);
                open = new ServiceVerdict(new Service(proto, new PortRange((ushort)lo, (ushort)hi)), decision.Verdict, decision.Rule);
            }
            if (open is not null) result.Add(open);
            result.Add(new ServiceVerdict(new Service(proto), otherwise.Verdict, otherwise.Rule));
        }
        return result;
    }

    /// <summary>The service entries of one pair whose packets without a matching service rule
    /// get <paramref name="noService"/> (the word's Allow bit): one per protocol on which some
    /// packet gets another verdict; none when the service rules change nothing.</summary>
    public static void Entries(IReadOnlyList<Candidate> candidates, RuleAction noService, ushort dst, ushort src, List<ServiceEntry> into)
    {
        foreach (var proto in Protocols(candidates))
        {
            var (otherwise, intervals) = Split(candidates, proto);
            var ports = new List<PortVerdict>();
            foreach (var (lo, hi, decision) in intervals)
            {
                if (decision.Verdict == otherwise.Verdict) continue;
                if (ports.Count > 0 && ports[^1] is var last && last.Hi + 1 == lo && last.Action == decision.Verdict)
                    ports[^1] = last with { Hi = (ushort)hi };
                else ports.Add(new PortVerdict((ushort)lo, (ushort)hi, decision.Verdict));
            }
            if (ports.Count == 0 && otherwise.Verdict == noService) continue;
            into.Add(new ServiceEntry(dst, src, proto, otherwise.Verdict, new ValueList<PortVerdict>(ports)));
        }
    }
}
