// The desired kernel state of the forwarder subsystem on one host: which interfaces are routers
// and which are physical interfaces (with their VLAN ids), per forwarder. Pure: computed from the
// snapshot and the host's interface list.
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Forwarder;

/// <summary>A forwarder's router interface present on this host.</summary>
public sealed record RouterPort(string Forwarder, string Name, int IfIndex, ForwarderMode Mode)
{
    public ForwarderSlot Slot => new(IfIndex, PortRole.Router, ForwarderPlan.ModeOf(Mode));
}

/// <summary>A physical interface present on this host, the VLAN id that names it on the router
/// link, and the router its frames go to.</summary>
public sealed record PhysicalPort(string Forwarder, string Name, int IfIndex, ushort VlanId, string Router, int RouterIfIndex, ForwarderMode Mode)
{
    public ForwarderSlot Slot => new(IfIndex, PortRole.Physical, ForwarderPlan.ModeOf(Mode));
}

/// <summary>Why an interface a forwarder names is not forwarded. Errors make apply exit
/// non-zero; warnings (an interface that is not here yet) do not.</summary>
public sealed record PortProblem(string Forwarder, string Interface, bool IsError, string Message)
{
    public override string ToString() => $"forwarder {Forwarder}: {Message}";
}

public sealed class ForwarderPlan
{
    public const string Wildcard = "*";

    private ForwarderPlan(IReadOnlyList<RouterPort> routers, IReadOnlyList<PhysicalPort> physicals, IReadOnlyList<PortProblem> problems)
    {
        Routers = routers;
        Physicals = physicals;
        Problems = problems;
    }

    public IReadOnlyList<RouterPort> Routers { get; }

    /// <summary>Ordered by forwarder, then interface name.</summary>
    public IReadOnlyList<PhysicalPort> Physicals { get; }

    public IReadOnlyList<PortProblem> Problems { get; }

    public bool IsEmpty => Routers.Count == 0;

    /// <summary>fwd_routers: router ifindex → itself (a devmap entry to redirect to).</summary>
    public Dictionary<uint, int> RouterEntries => Routers.ToDictionary(r => (uint)r.IfIndex, r => r.IfIndex);

    /// <summary>fwd_ports: physical ifindex → its router and VLAN id.</summary>
    public Dictionary<uint, ForwarderPort> PortEntries => Physicals.ToDictionary(p => (uint)p.IfIndex, p => new ForwarderPort((uint)p.RouterIfIndex, p.VlanId));

    /// <summary>fwd_vlans: VLAN id → physical ifindex.</summary>
    public Dictionary<uint, int> VlanEntries => Physicals.ToDictionary(p => (uint)p.VlanId, p => p.IfIndex);

    public static XdpMode ModeOf(ForwarderMode mode) => mode == ForwarderMode.Native ? XdpMode.Native : XdpMode.Skb;

    /// <summary>
    /// Every forwarder of the config against the interfaces here. A forwarder whose router is
    /// absent does nothing here (a warning). A listed physical interface that is absent is a
    /// warning (`apply IFACE` covers it when it appears); one whose ifindex cannot be a VLAN id
    /// (1..4094) is an error, as is an interface two forwarders list. `physical *` takes every
    /// interface but lo, the routers and the interfaces other forwarders list by name. With a
    /// node, only the forwarders whose `nodes` include it (or list none) count here.
    /// </summary>
    public static ForwarderPlan ForHost(PolicyConfig config, IEnumerable<(string Name, int IfIndex)> interfaces, string? node = null)
    {
        var here = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, ifIndex) in interfaces) here[name] = ifIndex;
        var forwarders = config.Forwarders.Values.Where(f => node is null || f.AppliesTo(node)).OrderBy(f => f.Id, StringComparer.Ordinal).ToList();
        var routerNames = forwarders.Select(f => f.Router).ToHashSet(StringComparer.Ordinal);
        var listed = new Dictionary<string, string>(StringComparer.Ordinal); // interface → first forwarder listing it by name
        var problems = new List<PortProblem>();
        foreach (var f in forwarders.Where(f => !IsWildcard(f)))
            foreach (var p in f.Physical)
            {
                if (listed.TryGetValue(p, out var other))
                    problems.Add(new PortProblem(f.Id, p, true, $"physical {p} is already forwarded by forwarder {other}; an interface belongs to one forwarder"));
                else listed[p] = f.Id;
            }

        var routers = new List<RouterPort>();
        var physicals = new List<PhysicalPort>();
        var claimed = new Dictionary<string, string>(StringComparer.Ordinal); // interface → forwarder, for wildcards
        foreach (var f in forwarders)
        {
            if (!here.TryGetValue(f.Router, out var routerIndex))
            {
                problems.Add(new PortProblem(f.Id, f.Router, false, $"router {f.Router} is not on this host: the forwarder does nothing here"));
                continue;
            }
            routers.Add(new RouterPort(f.Id, f.Router, routerIndex, f.Mode));
            IEnumerable<string> members;
            if (IsWildcard(f))
                members = here.Keys.Where(n => n != "lo" && !routerNames.Contains(n) && !listed.ContainsKey(n)).Order(StringComparer.Ordinal);
            else
                members = f.Physical.Where(p => listed.GetValueOrDefault(p) == f.Id).Order(StringComparer.Ordinal);
            foreach (var name in members)
            {
                if (IsWildcard(f))
                {
                    if (claimed.TryGetValue(name, out var first))
                    {
                        problems.Add(new PortProblem(f.Id, name, true, $"physical {name} is matched by '*' of forwarders {first} and {f.Id}; list it by name in one of them"));
                        continue;
                    }
                    claimed[name] = f.Id;
                }
                if (routerNames.Contains(name))
                {
                    problems.Add(new PortProblem(f.Id, name, true, $"physical {name} is the router of another forwarder"));
                    continue;
                }
                if (!here.TryGetValue(name, out var ifIndex))
                {
                    problems.Add(new PortProblem(f.Id, name, false, $"physical {name} is not on this host (yet): 'microseg apply {name}' adds it when it appears"));
                    continue;
                }
                if (VlanProblem(name, ifIndex) is { } vlanProblem)
                {
                    problems.Add(new PortProblem(f.Id, name, true, vlanProblem));
                    continue;
                }
                physicals.Add(new PhysicalPort(f.Id, name, ifIndex, (ushort)ifIndex, f.Router, routerIndex, f.Mode));
            }
        }
        return new ForwarderPlan(routers, physicals, problems);
    }

    /// <summary>The VLAN id of a physical interface is its ifindex, which must be a usable VLAN id.</summary>
    public static string? VlanProblem(string name, int ifIndex) =>
        ifIndex is >= ForwarderAbi.VlanMin and <= ForwarderAbi.VlanMax
            ? null
            : $"physical {name} has ifindex {ifIndex}, which cannot be its VLAN id (the VLAN id of a physical interface is its ifindex, and VLAN ids are {ForwarderAbi.VlanMin}..{ForwarderAbi.VlanMax}); recreate the interface with a smaller index (ip link add ... index N)";

    /// <summary>True when some forwarder names this interface, as router, by name, or through '*'.</summary>
    public bool Names(string name) =>
        Routers.Any(r => r.Name == name) || Physicals.Any(p => p.Name == name) || Problems.Any(p => p.Interface == name);

    private static bool IsWildcard(Microseg.Policy.Forwarder f) => f.Physical.Count == 1 && f.Physical[0] == Wildcard;
}
