// `microseg status`: what is loaded, which NICs are enforced with which group, map sizes and
// anything that needs attention.
using Microseg.Agent.Policy;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Agent;


public sealed record NicStatus(int IfIndex, string? Interface, ushort Mark, string? Group, bool Ingress, bool Egress);

public sealed record AgentStatus(
    string Node,
    bool Loaded,
    string? Fingerprint,
    int? Schema,
    string BuildFingerprint,
    int BuildSchema,
    uint? IngressProgramId,
    uint? EgressProgramId,
    int NicGroupEntries,
    int VerdictEntries,
    IReadOnlyList<NicStatus> Nics,
    IReadOnlyList<string> Warnings)
{
    /// <summary>The other subsystems' sections (carrier, forwarder), when the snapshot is valid.</summary>
    public IReadOnlyList<Subsystems.SubsystemStatus> Subsystems { get; init; } = [];
}

/// <summary>The policy part of `microseg status --json`, shared with the API's status.</summary>
public static class AgentStatusJson
{
    /// <summary>Writes the policy fields into the object the caller has open.</summary>
    public static void WritePolicyFields(System.Text.Json.Utf8JsonWriter w, AgentStatus s)
    {
        w.WriteBoolean("loaded", s.Loaded);
        w.WriteString("fingerprint", s.Fingerprint);
        if (s.Schema is { } schema) w.WriteNumber("schema", schema); else w.WriteNull("schema");
        w.WriteString("build_fingerprint", s.BuildFingerprint);
        w.WriteNumber("build_schema", s.BuildSchema);
        if (s.IngressProgramId is { } i) w.WriteNumber("ingress_program_id", i);
        if (s.EgressProgramId is { } e) w.WriteNumber("egress_program_id", e);
        w.WriteStartObject("maps");
        w.WriteNumber("nic_group", s.NicGroupEntries);
        w.WriteNumber("verdicts", s.VerdictEntries);
        w.WriteEndObject();
        w.WriteStartArray("nics");
        foreach (var n in s.Nics)
        {
            w.WriteStartObject();
            w.WriteNumber("ifindex", n.IfIndex);
            w.WriteString("interface", n.Interface);
            w.WriteString("group", n.Group);
            w.WriteNumber("mark", n.Mark);
            w.WriteBoolean("ingress", n.Ingress);
            w.WriteBoolean("egress", n.Egress);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>Every warning: the policy's, then each subsystem's prefixed with its name.</summary>
    public static IEnumerable<string> AllWarnings(AgentStatus s) =>
        s.Warnings.Concat(s.Subsystems.SelectMany(sub => sub.Warnings.Select(x => $"{sub.Name}: {x}")));
}

internal static class StatusReader
{
    public static AgentStatus Read(string node, PolicySubsystem policy, IReadOnlyList<LinkInfo> interfaces, PolicyConfig? config)
    {
        var build = policy.Program;
        var warnings = new List<string>();
        var names = interfaces.ToDictionary(i => i.IfIndex, i => i.Name);
        if (!policy.Pins.AllPresent)
        {
            if (config is not null)
            {
                var plan = PolicyPlan.ForHost(config, interfaces.Select(i => new LocalInterface(i.Name, i.IfIndex)));
                foreach (var nic in plan.Nics) warnings.Add($"{nic.Name} is assigned ({nic.AssignmentId}, group {nic.Group}) but nothing is loaded: run 'microseg apply'");
            }
            return new AgentStatus(node, false, policy.State.Fingerprint, policy.State.Schema, build.Fingerprint, build.Schema,
                null, null, 0, 0, [], warnings);
        }
        using var loaded = policy.OpenPinned();
        var links = policy.Links.Inspect();
        warnings.AddRange(links.Where(l => l.Defunct).Select(l => l.DefunctWarning));
        var groupsByMark = config?.Groups.Values.Where(g => g.Mark.HasValue).ToDictionary(g => (ushort)g.Mark!.Value, g => g.Name) ?? [];
        var nics = loaded.NicGroup.Entries()
            .OrderBy(e => e.Key)
            .Select(e => new NicStatus((int)e.Key, names.GetValueOrDefault((int)e.Key), e.Value.Group, groupsByMark.GetValueOrDefault(e.Value.Group),
                links.Any(l => l.IfIndex == (int)e.Key && l.Direction == TcxDirection.Ingress && !l.Defunct),
                links.Any(l => l.IfIndex == (int)e.Key && l.Direction == TcxDirection.Egress && !l.Defunct)))
            .ToList();
        foreach (var n in nics.Where(n => !n.Ingress || !n.Egress))
            warnings.Add($"{n.Interface ?? $"ifindex {n.IfIndex}"} has a group but is not fully attached (ingress {n.Ingress}, egress {n.Egress}): run 'microseg apply'");
        if (config is not null)
        {
            var plan = PolicyPlan.ForHost(config, interfaces.Select(i => new LocalInterface(i.Name, i.IfIndex)));
            foreach (var nic in plan.Nics.Where(p => !nics.Any(n => n.IfIndex == p.IfIndex && n.Mark == p.Mark && n.Ingress && n.Egress)))
                warnings.Add($"{nic.Name} is assigned ({nic.AssignmentId}, group {nic.Group}) but not enforced as such: run 'microseg apply'");
        }
        if (policy.State.Fingerprint != build.Fingerprint)
            warnings.Add($"loaded programs ({policy.State.Fingerprint?[..12] ?? "unknown"}) are not this build's ({build.Fingerprint[..12]}): the next apply upgrades them");
        return new AgentStatus(node, true, policy.State.Fingerprint, policy.State.Schema, build.Fingerprint, build.Schema,
            loaded.Ingress.Info().Id, loaded.Egress.Info().Id, loaded.NicGroup.Count(), loaded.Verdicts.Count(), nics, warnings);
    }
}
