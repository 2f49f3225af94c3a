// A lab file: hosts (network namespaces with a bridge and their own agent state) and guests
// (namespaces behind veth{vmid}i{iface} on a host's bridge), plus the policy to commit.
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microseg.Policy;

namespace Microseg.Lab;

public sealed record LabHost(string Name, string Bridge = "br0");

public sealed record LabGuest(string Name, string Host, long Vmid, long Iface, string Address)
{
    /// <summary>The host-side NIC, as LXC names it.</summary>
    [JsonIgnore]
    public string HostNic => $"veth{Vmid}i{Iface}";

    [JsonIgnore]
    public string GuestNic => $"eth{Iface}";

    [JsonIgnore]
    public IPAddress Ip => IPAddress.Parse(Address.Split('/')[0]);

    /// <summary>A fixed, locally administered MAC, so neighbours can be set without asking.</summary>
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

public sealed record LabSpec(string Name, string PolicyText, IReadOnlyList<LabHost> Hosts, IReadOnlyList<LabGuest> Guests)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private sealed record FileForm(string? Name, string? Policy, List<LabHost>? Hosts, List<LabGuest>? Guests);

    /// <summary>Reads a lab file; its "policy" is a microseg.cfg path relative to the lab file.</summary>
    public static LabSpec Load(string path)
    {
        FileForm form;
        try { form = JsonSerializer.Deserialize<FileForm>(File.ReadAllText(path), Json) ?? throw new LabException($"{path}: empty lab file"); }
        catch (JsonException e) { throw new LabException($"{path}: {e.Message}"); }
        if (form.Policy is null) throw new LabException($"{path}: missing \"policy\" (a microseg.cfg path)");
        var policyPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, form.Policy);
        return Create(form, File.ReadAllText(policyPath), path);
    }

    /// <summary>The built-in demo: SPEC §4's worked example on one host, plus an unassigned guest.</summary>
    public static LabSpec Demo()
    {
        var form = JsonSerializer.Deserialize<FileForm>(Resource("lab.json"), Json)!;
        return Create(form, Resource("microseg.cfg"), "built-in demo lab");
    }

    /// <summary>Writes the lab file (and its policy beside it) so that later commands find the lab by name.</summary>
    public void Save(string path)
    {
        var policyPath = Path.ChangeExtension(path, ".cfg");
        File.WriteAllText(policyPath, PolicyText);
        var form = new FileForm(Name, Path.GetFileName(policyPath), [.. Hosts], [.. Guests]);
        File.WriteAllText(path, JsonSerializer.Serialize(form, new JsonSerializerOptions(Json) { WriteIndented = true }));
    }

    public static LabSpec FromJson(string json, string policyText, string source) =>
        Create(JsonSerializer.Deserialize<FileForm>(json, Json) ?? throw new LabException($"{source}: empty lab file"), policyText, source);

    private static LabSpec Create(FileForm form, string policyText, string source)
    {
        var name = form.Name ?? "demo";
        if (!Names.IsGroupName(name) || name.Length > 12) throw new LabException($"{source}: lab name '{name}' must be a short name (letters, digits, '-', up to 12)");
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
        return new LabSpec(name, policyText, hosts, guests);
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
