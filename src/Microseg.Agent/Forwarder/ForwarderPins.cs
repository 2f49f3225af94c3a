// The pinned layout of the forwarder subsystem under <bpffs>/forwarder/:
//   prog/physical  prog/router  fwd_ports  fwd_routers  fwd_vlans
//   links/{ifindex}-{physical|router}-{skb|native}
// and, only while a schema migration runs, next/ with the new maps. The kernel does not report
// an XDP link's mode, so the pin's name keeps it.
using System.Globalization;
using Microseg.Bpf;

namespace Microseg.Agent.Forwarder;

public enum PortRole { Physical, Router }

/// <summary>One link pin: the interface, the program it runs and the mode it was attached in.</summary>
public sealed record LinkPin(string Path, int IfIndex, PortRole Role, XdpMode Mode);

public sealed class ForwarderPins(string root)
{
    public string Root { get; } = root;
    public string ProgramDirectory => Path.Combine(Root, "prog");
    public string PhysicalProgram => Path.Combine(ProgramDirectory, "physical");
    public string RouterProgram => Path.Combine(ProgramDirectory, "router");
    public string LinkDirectory => Path.Combine(Root, "links");
    public string NextDirectory => Path.Combine(Root, "next");

    public string Map(string name, bool next = false) => Path.Combine(next ? NextDirectory : Root, name);

    public string Program(PortRole role) => role == PortRole.Physical ? PhysicalProgram : RouterProgram;

    public string Link(int ifIndex, PortRole role, XdpMode mode) =>
        Path.Combine(LinkDirectory, $"{ifIndex.ToString(CultureInfo.InvariantCulture)}-{Word(role)}-{XdpLink.Describe(mode)}");

    public static string Word(PortRole role) => role == PortRole.Physical ? "physical" : "router";

    /// <summary>The link pins present, by name. Names that are not ours are skipped.</summary>
    public IEnumerable<LinkPin> Links()
    {
        if (!Directory.Exists(LinkDirectory)) yield break;
        foreach (var path in Directory.EnumerateFiles(LinkDirectory).Order(StringComparer.Ordinal))
        {
            var parts = System.IO.Path.GetFileName(path).Split('-');
            if (parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ifIndex)) continue;
            PortRole? role = parts[1] switch { "physical" => PortRole.Physical, "router" => PortRole.Router, _ => null };
            XdpMode? mode = parts[2] switch { "skb" => XdpMode.Skb, "native" => XdpMode.Native, _ => null };
            if (role is null || mode is null) continue;
            yield return new LinkPin(path, ifIndex, role.Value, mode.Value);
        }
    }
}
