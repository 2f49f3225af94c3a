// A lab file: hosts (network namespaces with a bridge and their own agent state) and guests
// (namespaces behind veth{vmid}i{iface} on a host's bridge), plus the policy to commit. Several
// hosts are joined by an underlay and a carrier that moves the group between them:
//   vxlan-gbp  one L2 segment over VXLAN with the gbp flag (the kernel carries the mark)
//   vxlan      the same without gbp: the group is lost on the way (to show what goes wrong)
//   srv6       each host routes its own guest subnet; IPv4 between hosts is encapsulated in
//              SRv6 (seg6 encap, End.DX4 decap) and the carrier programs put the group in the
//              SRH tag on the underlay interface und0 (the policy needs `bridge: und0`)
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microseg.Policy;

namespace Microseg.Lab;

/// <param name="Address">The host's own address on its bridge, ADDRESS/PREFIX (the guests'
/// gateway in SRv6 labs); derived when absent (see <see cref="LabSpec.HostAddress"/>).</param>
public sealed record LabHost(string Name, string Bridge = "br0", string? Address = null);

/// <summary>How a lab's hosts carry the group between them.</summary>
public enum LabCarrier { None, VxlanGbp, Vxlan, Srv6 }

public static class LabCarriers
{
    public static string Name(this LabCarrier carrier) => carrier switch
    {
        LabCarrier.None => "none",
        LabCarrier.VxlanGbp => "vxlan-gbp",
        LabCarrier.Vxlan => "vxlan",
        LabCarrier.Srv6 => "srv6",
        _ => throw new ArgumentOutOfRangeException(nameof(carrier)),
    };

    public static bool TryParse(string name, out LabCarrier carrier)
    {
        foreach (var c in Enum.GetValues<LabCarrier>())
            if (c.Name() == name) { carrier = c; return true; }
        carrier = default;
        return false;
    }
}

public sealed record LabGuest(string Name, string Host, long Vmid, long Iface, string Address)
{
    /// <summary>The host-side NIC, as LXC names it.</summary>
    [JsonIgnore]
    public string HostNic => $"veth{Vmid}i{Iface}";

    [JsonIgnore]
    public string GuestNic => $"eth{Iface}";

    [JsonIgnore]
    public IPAddress Ip => IPAddress.Parse(Address.Split('/')[0]);

    /// <summary>A fixed, locally administered MAC (tests build raw frames to it).</summary>
    [JsonIgnore]
    public string Mac
    {
        get
        {
            var n = (Vmid * 32) + Iface;
            return $"02:4d:{(n >> 24) & 0xff:x2}:{(n >> 16) & 0xff:x2}:{(n >> 8) & 0xff:x2}:{n & 0xff:x2}";
        }
    }
}

public sealed record LabSpec(string Name, string PolicyText, IReadOnlyList<LabHost> Hosts, IReadOnlyList<LabGuest> Guests, LabCarrier Carrier = LabCarrier.None)
{
    internal sealed record FileForm(string? Name, string? Policy, List<LabHost>? Hosts, List<LabGuest>? Guests, string? Carrier = null);

    /// <summary>Hosts joined by an underlay (several hosts, or a carrier).</summary>
    [JsonIgnore]
    public bool IsMultiHost => Hosts.Count > 1 || Carrier != LabCarrier.None;

    public int HostIndex(string host)
    {
        for (int i = 0; i < Hosts.Count; i++)
            if (Hosts[i].Name == host) return i;
        throw new LabException($"lab {Name} has no host '{host}'");
    }

    public IEnumerable<LabGuest> GuestsOf(string host) => Guests.Where(g => g.Host == host);

    /// <summary>The subnet a host's guests live in: its own in SRv6 labs, the lab's one otherwise.</summary>
    public Ipv4Subnet? GuestSubnet(LabHost host)
    {
        var first = Carrier == LabCarrier.Srv6 ? GuestsOf(host.Name).FirstOrDefault() : Guests.FirstOrDefault();
        return first is null ? null : Ipv4Subnet.Of(first.Address);
    }

    /// <summary>The host's own address on its bridge, ADDRESS/PREFIX: the lab file's, else in
    /// SRv6 labs the first address of the host's guest subnet (the guests' gateway), else in
    /// multi-host labs the last address of the guest subnet less the host's index; single-host
    /// labs without one have none.</summary>
    public string? HostAddress(LabHost host)
    {
        if (host.Address is not null) return host.Address;
        if (!IsMultiHost || GuestSubnet(host) is not { } subnet) return null;
        if (Carrier == LabCarrier.Srv6) return subnet.WithPrefix(subnet.FirstHost);
        return subnet.WithPrefix(Ipv4Subnet.FromUInt(Ipv4Subnet.ToUInt(subnet.LastHost) - (uint)HostIndex(host.Name)));
    }

    public IPAddress? HostIp(LabHost host) => HostAddress(host) is { } a ? IPAddress.Parse(a.Split('/')[0]) : null;

    public static IReadOnlyList<string> BuiltInNames { get; } = ["demo", "xhost-vxlan", "xhost-srv6"];

    /// <summary>Reads a lab file; its "policy" is a microseg.cfg path relative to the lab file.</summary>
    public static LabSpec Load(string path)
    {
        FileForm form;
        try { form = JsonSerializer.Deserialize(File.ReadAllText(path), LabJson.Default.FileForm) ?? throw new LabException($"{path}: empty lab file"); }
        catch (JsonException e) { throw new LabException($"{path}: {e.Message}"); }
        if (form.Policy is null) throw new LabException($"{path}: missing \"policy\" (a microseg.cfg path)");
        var policyPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, form.Policy);
        return Create(form, File.ReadAllText(policyPath), path);
    }

    /// <summary>The built-in demo: SPEC §4's worked example on one host, plus an unassigned guest.</summary>
    public static LabSpec Demo() => BuiltIn("demo");

    /// <summary>A built-in lab by name (<see cref="BuiltInNames"/>): "demo" is examples/lab.json,
    /// the others examples/NAME.json, each with the policy file it names.</summary>
    public static LabSpec BuiltIn(string name)
    {
        if (!BuiltInNames.Contains(name)) throw new LabException($"no built-in lab '{name}' (have: {string.Join(", ", BuiltInNames)})");
        var file = name == "demo" ? "lab.json" : $"{name}.json";
        var form = JsonSerializer.Deserialize(Resource(file), LabJson.Default.FileForm)!;
        return Create(form, Resource(form.Policy ?? throw new LabException($"built-in lab {name} names no policy")), $"built-in lab {name}");
    }

    /// <summary>Writes the lab file (and its policy beside it) so that later commands find the lab by name.</summary>
    public void Save(string path)
    {
        var policyPath = Path.ChangeExtension(path, ".cfg");
        File.WriteAllText(policyPath, PolicyText);
        var form = new FileForm(Name, Path.GetFileName(policyPath), [.. Hosts], [.. Guests], Carrier.Name());
        File.WriteAllText(path, JsonSerializer.Serialize(form, LabJson.Indented.FileForm));
    }

    public static LabSpec FromJson(string json, string policyText, string source) =>
        Create(JsonSerializer.Deserialize(json, LabJson.Default.FileForm) ?? throw new LabException($"{source}: empty lab file"), policyText, source);

    private static LabSpec Create(FileForm form, string policyText, string source)
    {
        var name = form.Name ?? "demo";
        if (!Names.IsGroupName(name) || name.Length > 12) throw new LabException($"{source}: lab name '{name}' must be a short name (letters, digits, '-', up to 12)");
        // Forwarder labs keep their state in RunRoot/msf-NAME: a lab of that name would share it.
        if (name.StartsWith("msf-", StringComparison.Ordinal)) throw new LabException($"{source}: lab name '{name}' is reserved for forwarder labs (msf-…)");
        var hosts = form.Hosts ?? [];
        var guests = form.Guests ?? [];
        if (hosts.Count == 0) throw new LabException($"{source}: a lab needs at least one host");
        var names = new HashSet<string>();
        foreach (var h in hosts)
            if (!Names.IsGroupName(h.Name) || h.Name.Length > 12 || !names.Add(h.Name)) throw new LabException($"{source}: host name '{h.Name}' is invalid or used twice");
        foreach (var g in guests)
        {
            if (!Names.IsGroupName(g.Name) || g.Name.Length > 12 || !names.Add(g.Name)) throw new LabException($"{source}: guest name '{g.Name}' is invalid or used twice");
            if (hosts.All(h => h.Name != g.Host)) throw new LabException($"{source}: guest {g.Name}: unknown host '{g.Host}'");
            if (g.Vmid is < Names.MinVmid or > Names.MaxVmid || g.Iface is < Names.MinIface or > Names.MaxIface)
                throw new LabException($"{source}: guest {g.Name}: vmid {g.Vmid} / iface {g.Iface} out of range");
            var parts = g.Address.Split('/');
            if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out _) || !int.TryParse(parts[1], out _))
                throw new LabException($"{source}: guest {g.Name}: address '{g.Address}' is not ADDRESS/PREFIX");
        }
        var carrier = LabCarrier.None;
        if (form.Carrier is { } c && !LabCarriers.TryParse(c, out carrier))
            throw new LabException($"{source}: carrier '{c}' is none of {string.Join(", ", Enum.GetValues<LabCarrier>().Select(x => x.Name()))}");
        if (hosts.Count > 1 && carrier == LabCarrier.None)
            throw new LabException($"{source}: a lab with several hosts needs a carrier to join them: vxlan-gbp, vxlan or srv6");
        if (names.Contains(LabNetwork.UnderlayMember))
            throw new LabException($"{source}: the name '{LabNetwork.UnderlayMember}' is the underlay's; name the host or guest otherwise");
        foreach (var h in hosts.Where(h => h.Address is not null)) Ipv4Subnet.Of(h.Address!);
        var spec = new LabSpec(name, policyText, hosts, guests, carrier);
        spec.CheckAddresses(source);
        return spec;
    }

    /// <summary>SRv6 routes a subnet per host; VXLAN bridges one subnet. Host addresses must fit.</summary>
    private void CheckAddresses(string source)
    {
        if (!IsMultiHost) return;
        var taken = new Dictionary<IPAddress, string>();
        foreach (var g in Guests)
            if (!taken.TryAdd(g.Ip, g.Name)) throw new LabException($"{source}: guests {taken[g.Ip]} and {g.Name} have the same address {g.Ip}");
        var subnets = new List<(string Host, Ipv4Subnet Subnet)>();
        foreach (var host in Hosts)
        {
            var mine = Carrier == LabCarrier.Srv6 ? GuestsOf(host.Name).ToList() : [.. Guests];
            if (GuestSubnet(host) is not { } subnet) continue;
            foreach (var g in mine.Where(g => !subnet.Contains(g.Ip)))
                throw new LabException($"{source}: guest {g.Name} ({g.Address}) is outside {subnet}: {(Carrier == LabCarrier.Srv6 ? "in an SRv6 lab each host's guests share one subnet" : "a VXLAN lab is one subnet")}");
            if (Carrier == LabCarrier.Srv6)
            {
                if (subnets.FirstOrDefault(s => s.Subnet.Contains(Ipv4Subnet.FromUInt(subnet.Network)) || subnet.Contains(Ipv4Subnet.FromUInt(s.Subnet.Network))) is { Host: not null } clash)
                    throw new LabException($"{source}: hosts {clash.Host} and {host.Name} have overlapping guest subnets ({clash.Subnet}, {subnet}): SRv6 labs route one subnet per host");
                subnets.Add((host.Name, subnet));
            }
            var ip = HostIp(host)!;
            if (!subnet.Contains(ip)) throw new LabException($"{source}: host {host.Name}'s address {HostAddress(host)} is outside its guests' subnet {subnet}");
            if (!taken.TryAdd(ip, host.Name)) throw new LabException($"{source}: host {host.Name}'s address {ip} is also {taken[ip]}'s");
        }
    }

    private static string Resource(string name)
    {
        using var stream = typeof(LabSpec).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{name} is not embedded in this build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

/// <summary>A lab that cannot be built or checked, with a message for the user.</summary>
public sealed class LabException(string message) : Exception(message);
