// The desired state of the carrier subsystem on one host, and what it must warn about. Pure:
// computed from the snapshot, the node name and the host's interface list.
//  - SRv6: the configured `bridge` interfaces that apply to this node get the tag programs.
//  - VXLAN-GBP: the kernel carries the group itself, but only on a vxlan device created with
//    `gbp`; one without it, on a bridge that carries enforced NICs, loses every group that
//    crosses it, and the flag cannot be added to a live device.
using System.Globalization;
using System.Text;
using Microseg.Agent.Subsystems;
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Agent.Carrier;

/// <summary>A carrier interface present on this host.</summary>
public sealed record CarrierInterface(string Name, int IfIndex);

/// <summary>A vxlan device enslaved to a Linux bridge, and how many enforced NICs share that bridge.</summary>
public sealed record VxlanDevice(string Name, int IfIndex, uint Vni, bool Gbp, string Bridge, int BridgeIfIndex, int EnforcedNics)
{
    /// <summary>Groups of enforced NICs cross this device and it cannot carry them.</summary>
    public bool LacksGbp => EnforcedNics > 0 && !Gbp;
}

public sealed class CarrierPlan
{
    private CarrierPlan(IReadOnlyList<CarrierInterface> interfaces, IReadOnlyList<string> missing, IReadOnlyList<VxlanDevice> vxlans, IReadOnlyList<string> warnings)
    {
        Interfaces = interfaces;
        Missing = missing;
        Vxlans = vxlans;
        Warnings = warnings;
    }

    /// <summary>Configured carrier interfaces that apply to this node and exist here, by name.</summary>
    public IReadOnlyList<CarrierInterface> Interfaces { get; }

    /// <summary>Configured carrier interfaces that apply to this node but do not exist here.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Every vxlan device on a Linux bridge, by name.</summary>
    public IReadOnlyList<VxlanDevice> Vxlans { get; }

    /// <summary>One line each: a missing carrier interface, a vxlan device that lacks gbp (with the fix).</summary>
    public IReadOnlyList<string> Warnings { get; }

    public static CarrierPlan For(HostState host) => For(host.Config, host.Node, host.Links, host.EnforcedIfIndexes);

    public static CarrierPlan For(PolicyConfig config, string node, IReadOnlyList<LinkInfo> links, IReadOnlySet<int> enforced)
    {
        var byName = links.GroupBy(l => l.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var byIndex = links.GroupBy(l => l.IfIndex).ToDictionary(g => g.Key, g => g.First());
        var interfaces = new List<CarrierInterface>();
        var missing = new List<string>();
        var warnings = new List<string>();
        foreach (var bridge in config.Bridges.Values.Where(b => b.AppliesTo(node)).OrderBy(b => b.Name, StringComparer.Ordinal))
        {
            if (byName.TryGetValue(bridge.Name, out var link))
                interfaces.Add(new CarrierInterface(link.Name, link.IfIndex));
            else
            {
                missing.Add(bridge.Name);
                warnings.Add($"carrier interface {bridge.Name} is configured for node {node} but there is no such interface here: SRv6 packets through it would leave and arrive without their group");
            }
        }

        var enforcedPerBridge = links.Where(l => enforced.Contains(l.IfIndex) && l.MasterIfIndex is not null)
            .GroupBy(l => l.MasterIfIndex!.Value).ToDictionary(g => g.Key, g => g.Count());
        var vxlans = new List<VxlanDevice>();
        foreach (var vx in links.Where(l => l.Kind == "vxlan" && l.MasterIfIndex is not null).OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            if (!byIndex.TryGetValue(vx.MasterIfIndex!.Value, out var master) || master.Kind != "bridge") continue;
            var device = new VxlanDevice(vx.Name, vx.IfIndex, vx.Vxlan?.Id ?? 0, vx.Vxlan?.Gbp ?? false, master.Name, master.IfIndex,
                enforcedPerBridge.GetValueOrDefault(master.IfIndex));
            vxlans.Add(device);
            if (device.LacksGbp)
                warnings.Add(GbpWarning(device, vx));
        }
        return new CarrierPlan(interfaces, missing, vxlans, warnings);
    }

    /// <summary>Names the device and the fix: the flag exists only at creation, so the device
    /// must be recreated with the same settings plus gbp.</summary>
    public static string GbpWarning(VxlanDevice device, LinkInfo link)
    {
        var nics = device.EnforcedNics == 1 ? "the 1 enforced NIC" : $"the {device.EnforcedNics} enforced NICs";
        return $"vxlan device {device.Name} (VNI {device.Vni}) on bridge {device.Bridge} lacks the gbp flag, so the group of every packet through it is lost: " +
               $"other hosts see the traffic of {nics} on {device.Bridge} as untagged, and this host sees theirs as untagged too. " +
               $"The flag can only be set when the device is created: recreate it with its settings plus gbp, e.g. " +
               $"'ip link del {device.Name}; {RecreateCommand(device, link)}; ip link set {device.Name} master {device.Bridge} up'";
    }

    private static string RecreateCommand(VxlanDevice device, LinkInfo link)
    {
        var command = new StringBuilder($"ip link add {device.Name} type vxlan id {device.Vni.ToString(CultureInfo.InvariantCulture)}");
        if (link.Vxlan?.Port is { } port) command.Append($" dstport {port.ToString(CultureInfo.InvariantCulture)}");
        if (link.Vxlan?.Local is { } local) command.Append($" local {local}");
        if (link.Vxlan?.Remote is { } remote) command.Append(remote.IsIPv6Multicast || IsIPv4Multicast(remote) ? $" group {remote}" : $" remote {remote}");
        command.Append(" gbp");
        return command.ToString();
    }

    private static bool IsIPv4Multicast(System.Net.IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && (address.GetAddressBytes()[0] & 0xf0) == 0xe0;
}
