// `microseg status` as people read it, rendered from the agent's status records: the policy as
// header lines and a table of enforced NICs, each other subsystem as an indented section, then
// every warning.
using System.Globalization;
using Microseg.Agent;
using Microseg.Agent.Carrier;
using Microseg.Agent.Forwarder;
using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Api.Endpoints;
using Microseg.Bpf;

namespace Microseg.Cli.Output;

public static class StatusText
{
    public static void Write(TextWriter w, AgentStatus s)
    {
        w.WriteLine($"node:      {s.Node}");
        foreach (var sub in s.Subsystems)
        {
            if (sub is PolicyStatus p)
            {
                WritePolicy(w, p);
                continue;
            }
            w.WriteLine($"{sub.Name}:");
            foreach (var line in sub switch { CarrierStatus c => CarrierLines(c), ForwarderStatus f => ForwarderLines(f), _ => [] })
                w.WriteLine($"  {line}");
        }
        foreach (var warning in AgentStatusJson.AllWarnings(s)) w.WriteLine($"warning: {warning}");
    }

    private static void WritePolicy(TextWriter w, PolicyStatus s)
    {
        w.WriteLine($"policy:    {(s.Loaded ? "loaded" : "not loaded")}" +
            (s.Loaded ? $", fingerprint {Fingerprints.Short(s.Fingerprint)}, schema {s.Schema}, programs ingress #{s.IngressProgramId} egress #{s.EgressProgramId}" : ""));
        w.WriteLine($"attach:    {AttachModeChoice.Word(s.Attach)} ({s.AttachReason})");
        w.WriteLine($"maps:      nic_group {s.NicGroupEntries} entries, verdicts {s.VerdictEntries} entries, services {s.ServiceEntries} entries");
        if (s.VerdictMap is { } v)
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"verdicts:  {v.Words:N0} / {v.MaxWords:N0} words, {v.Destinations:N0} / {v.MaxDestinations:N0} local destination groups, " +
                $"kernel memory {(v.MemlockBytes is { } b ? $"{b:N0} bytes" : "unknown")} (memlock, /proc/self/fdinfo)"));
        if (s.FlowTable is { } f)
            w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"flows:     {f.Entries:N0} / {f.MaxEntries:N0} entries (least recently used go first when full), " +
                $"kernel memory {(f.MemlockBytes is { } fb ? $"{fb:N0} bytes" : "unknown")} (preallocated; memlock, /proc/self/fdinfo)"));
        var table = new Table("IFINDEX", "INTERFACE", "GROUP", "MARK", "INGRESS", "EGRESS");
        foreach (var n in s.Nics)
            table.Row(n.IfIndex.ToString(CultureInfo.InvariantCulture), n.Interface, n.Group, n.Mark.ToString(CultureInfo.InvariantCulture),
                Attached(n.Ingress), Attached(n.Egress));
        w.WriteLine($"enforced:  {s.Nics.Count} NIC{(s.Nics.Count == 1 ? "" : "s")}");
        if (s.Nics.Count > 0) table.WriteTo(w);
    }

    private static IEnumerable<string> CarrierLines(CarrierStatus s)
    {
        if (s.Loaded)
            yield return $"programs:  loaded, fingerprint {Fingerprints.Short(s.Fingerprint) ?? "unknown"}, ingress #{s.IngressProgramId} egress #{s.EgressProgramId}";
        else
            yield return s.Configured ? "programs:  not loaded" : "programs:  not loaded (no SRv6 carrier interface on this node)";
        foreach (var i in s.Interfaces)
            yield return $"{i.Name + ":",-10} ifindex {i.IfIndex}, SRv6 tag ingress {Attached(i.Ingress)}, egress {Attached(i.Egress)}";
        foreach (var missing in s.Missing) yield return $"{missing + ":",-10} configured, but no such interface here";
        foreach (var vx in s.Vxlans)
            yield return $"vxlan {vx.Name}: VNI {vx.Vni} on bridge {vx.Bridge}, gbp {(vx.Gbp ? "on" : "OFF")}, {vx.EnforcedNics} enforced NIC{(vx.EnforcedNics == 1 ? "" : "s")} on the bridge";
    }

    private static IEnumerable<string> ForwarderLines(ForwarderStatus s)
    {
        if (!s.Loaded)
        {
            yield return s.Configured ? "not loaded" : "not loaded (no forwarder on this host)";
            yield break;
        }
        yield return $"programs: loaded, fingerprint {Fingerprints.Short(s.Fingerprint)}, schema {s.Schema}, physical #{s.PhysicalProgramId} router #{s.RouterProgramId}";
        yield return $"maps: fwd_ports {s.PortEntries} entries, fwd_vlans {s.VlanEntries} entries, fwd_routers {s.RouterEntries} entries";
        var width = s.Ports.Count == 0 ? 0 : s.Ports.Max(p => p.Interface.Length);
        foreach (var p in s.Ports)
            yield return $"{p.Forwarder}: {ForwarderSlot.Word(p.Role),-8} {p.Interface.PadRight(width)} ifindex {p.IfIndex,-5} vlan {p.Vlan?.ToString(CultureInfo.InvariantCulture) ?? "-",-4} {XdpLink.Describe(p.Mode),-6} {(p.Attached ? "attached" : "MISSING")}";
    }

    private static string Attached(bool attached) => attached ? "attached" : "missing";
}
