// The pinned layout of the forwarder subsystem under <bpffs>/forwarder/:
//   prog/physical  prog/router  fwd_ports  fwd_routers  fwd_vlans
//   links/{ifindex}-{physical|router}-{skb|native}
// and, only while a schema migration runs, next/ with the new maps. The kernel does not report
// an XDP link's mode, so the pin's name keeps it.
using System.Globalization;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Forwarder;

public enum PortRole { Physical, Router }

public sealed class ForwarderPins(string root)
{
    public static readonly IReadOnlyList<string> Maps = [Bpf.Abi.ForwarderAbi.PortsMap, Bpf.Abi.ForwarderAbi.RoutersMap, Bpf.Abi.ForwarderAbi.VlansMap];

    public string Root { get; } = root;
    public string ProgramDirectory => Path.Combine(Root, "prog");
    public string LinkDirectory => Path.Combine(Root, "links");
    public string NextDirectory => Path.Combine(Root, "next");

    public string Map(string name, bool next = false) => Path.Combine(next ? NextDirectory : Root, name);

    public string Program(PortRole role) => Path.Combine(ProgramDirectory, ForwarderSlot.Word(role));

    public bool MapsPresent(bool next = false) => Maps.All(m => File.Exists(Map(m, next)));

    public bool AllPresent => File.Exists(Program(PortRole.Physical)) && File.Exists(Program(PortRole.Router)) && MapsPresent();
}

/// <summary>An XDP link of the forwarder: one per interface, in the role's program and a mode.</summary>
public readonly record struct ForwarderSlot(int IfIndex, PortRole Role, XdpMode Mode) : ILinkSlot
{
    public static string Word(PortRole role) => role == PortRole.Physical ? "physical" : "router";

    public string PinName => $"{IfIndex.ToString(CultureInfo.InvariantCulture)}-{Word(Role)}-{XdpLink.Describe(Mode)}";

    /// <summary>An interface has one XDP program, and native and skb cannot coexist.</summary>
    public bool Displaces(ILinkSlot other) => other.IfIndex == IfIndex;
}

public sealed class ForwarderLinkPins(string directory, ILogger log) : LinkPins<ForwarderSlot>(directory, log)
{
    protected override bool TryParse(string pinName, out ForwarderSlot slot)
    {
        slot = default;
        var parts = pinName.Split('-');
        if (parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ifIndex)) return false;
        PortRole? role = parts[1] switch { "physical" => PortRole.Physical, "router" => PortRole.Router, _ => null };
        XdpMode? mode = parts[2] switch { "skb" => XdpMode.Skb, "native" => XdpMode.Native, _ => null };
        if (role is null || mode is null) return false;
        slot = new ForwarderSlot(ifIndex, role.Value, mode.Value);
        return true;
    }

    protected override NetDeviceLink Create(BpfProgram program, ForwarderSlot slot) => XdpLink.Create(program, slot.IfIndex, slot.Mode);

    protected override NetDeviceLink OpenPinned(string path) => XdpLink.OpenPinned(path);
}
