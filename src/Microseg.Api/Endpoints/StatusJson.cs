// `GET .../status` and the apply part of `POST .../commit`: pending and running config, the
// last apply on this host, and the agent's status. AgentStatusJson renders the agent's status
// records for both this API and `microseg status --json`.
using System.Text.Json;
using Microseg.Agent;
using Microseg.Agent.Carrier;
using Microseg.Agent.Forwarder;
using Microseg.Agent.Policy;
using Microseg.Bpf;
using Microseg.Policy;

namespace Microseg.Api.Endpoints;

internal static class StatusJson
{
    public static void WriteApply(Utf8JsonWriter w, ApplyReport r)
    {
        w.WriteStartObject();
        w.WriteBoolean("ok", r.Ok);
        w.WriteString("at", r.At);
        w.WriteNumber("version", r.Version);
        w.WriteString("node", r.Node);
        w.WriteString("error", r.Error);
        w.WriteString("programs", r.Load);
        WriteNics(w, "enforced", r.Enforced);
        WriteNics(w, "failed", r.Failed);
        AgentStatusJson.WriteArray(w, "subsystems", r.Subsystems, s =>
        {
            w.WriteString("name", s.Name);
            w.WriteString("summary", s.Summary);
            AgentStatusJson.WriteStrings(w, "errors", s.Errors);
            AgentStatusJson.WriteStrings(w, "warnings", s.Warnings);
        });
        w.WriteEndObject();
    }

    private static void WriteNics(Utf8JsonWriter w, string name, IReadOnlyList<NicOutcome> nics) =>
        AgentStatusJson.WriteArray(w, name, nics, n =>
        {
            w.WriteString("interface", n.Interface);
            w.WriteString("group", n.Group);
            if (n.Error is not null) w.WriteString("error", n.Error);
        });

    public static void Write(Utf8JsonWriter w, LocalAgent agent, PendingConfig pending, Snapshot? running, string? runningProblem,
        int changes, AgentStatus? status, string? statusError)
    {
        w.WriteStartObject();
        w.WriteString("node", agent.Options.Node);

        w.WriteStartObject("pending");
        w.WriteString("digest", pending.Digest);
        var counts = pending.Config.Objects.CountBy(o => o.Type).ToDictionary();
        foreach (var type in ObjectTypes.All) w.WriteNumber(type.Name() + "s", counts.GetValueOrDefault(type));
        w.WriteNumber("changes", changes);
        w.WriteEndObject();

        w.WriteStartObject("running");
        if (running is null) w.WriteNull("version"); else w.WriteNumber("version", running.Version);
        if (runningProblem is not null) w.WriteString("error", runningProblem);
        w.WriteEndObject();

        w.WritePropertyName("last_apply");
        if (agent.Last is { } last) WriteApply(w, last); else w.WriteNullValue();

        w.WriteStartObject("agent");
        if (status is null) w.WriteString("error", statusError);
        else
        {
            AgentStatusJson.WritePolicyFields(w, status.Policy);
            AgentStatusJson.WriteStrings(w, "warnings", AgentStatusJson.AllWarnings(status));
        }
        w.WriteEndObject();

        w.WriteEndObject();
    }
}

/// <summary>The agent's status records as JSON: `microseg status --json` writes all of it, the
/// API's status the policy fields and the warnings.</summary>
public static class AgentStatusJson
{
    /// <summary>{"node", one object per subsystem, "warnings"}.</summary>
    public static void Write(Utf8JsonWriter w, AgentStatus s)
    {
        w.WriteStartObject();
        w.WriteString("node", s.Node);
        foreach (var sub in s.Subsystems)
        {
            w.WriteStartObject(sub.Name);
            switch (sub)
            {
                case PolicyStatus p: WritePolicyFields(w, p); break;
                case CarrierStatus c: WriteCarrierFields(w, c); break;
                case ForwarderStatus f: WriteForwarderFields(w, f); break;
            }
            w.WriteEndObject();
        }
        WriteStrings(w, "warnings", AllWarnings(s));
        w.WriteEndObject();
    }

    /// <summary>Every warning: the agent's, the policy's, then each other subsystem's prefixed with its name.</summary>
    public static IEnumerable<string> AllWarnings(AgentStatus s) =>
        s.Warnings.Concat(s.Subsystems.SelectMany(sub => sub.Warnings.Select(x => sub is PolicyStatus ? x : $"{sub.Name}: {x}")));

    /// <summary>Writes the policy fields into the object the caller has open.</summary>
    public static void WritePolicyFields(Utf8JsonWriter w, PolicyStatus s)
    {
        WritePrograms(w, s.Loaded, s.Fingerprint, s.BuildFingerprint, (s.Schema, s.BuildSchema), ("ingress", s.IngressProgramId), ("egress", s.EgressProgramId));
        w.WriteStartObject("attach");
        w.WriteString("mode", AttachModeChoice.Word(s.Attach));
        w.WriteString("reason", s.AttachReason);
        w.WriteEndObject();
        w.WriteStartObject("maps");
        w.WriteNumber("nic_group", s.NicGroupEntries);
        w.WriteNumber("verdicts", s.VerdictEntries);
        w.WriteNumber("services", s.ServiceEntries);
        w.WriteEndObject();
        if (s.FlowTable is { } f)
        {
            w.WriteStartObject("flow_table");
            w.WriteNumber("entries", f.Entries);
            w.WriteNumber("max_entries", f.MaxEntries);
            if (f.MemlockBytes is { } fb) w.WriteNumber("memlock_bytes", fb);
            else w.WriteNull("memlock_bytes");
            w.WriteString("memlock_source", "/proc/self/fdinfo");
            w.WriteEndObject();
        }
        if (s.VerdictMap is { } v)
        {
            w.WriteStartObject("verdict_map");
            WriteFields(w, ("words", v.Words), ("max_words", v.MaxWords), ("destinations", v.Destinations), ("max_destinations", v.MaxDestinations));
            if (v.MemlockBytes is { } bytes) w.WriteNumber("memlock_bytes", bytes);
            else w.WriteNull("memlock_bytes");
            w.WriteString("memlock_source", "/proc/self/fdinfo");
            w.WriteEndObject();
        }
        WriteArray(w, "nics", s.Nics, n => WriteFields(w,
            ("ifindex", n.IfIndex), ("interface", n.Interface), ("group", n.Group), ("mark", n.Mark), ("ingress", n.Ingress), ("egress", n.Egress)));
    }

    private static void WriteCarrierFields(Utf8JsonWriter w, CarrierStatus s)
    {
        WritePrograms(w, s.Loaded, s.Fingerprint, s.BuildFingerprint, null, ("ingress", s.IngressProgramId), ("egress", s.EgressProgramId));
        WriteArray(w, "interfaces", s.Interfaces, i => WriteFields(w, ("name", i.Name), ("ifindex", i.IfIndex), ("ingress", i.Ingress), ("egress", i.Egress)));
        WriteStrings(w, "missing", s.Missing);
        WriteArray(w, "vxlan", s.Vxlans, vx => WriteFields(w,
            ("name", vx.Name), ("ifindex", vx.IfIndex), ("vni", vx.Vni), ("bridge", vx.Bridge), ("gbp", vx.Gbp), ("enforced_nics", vx.EnforcedNics)));
    }

    private static void WriteForwarderFields(Utf8JsonWriter w, ForwarderStatus s)
    {
        if (!s.Loaded) w.WriteBoolean("loaded", false);
        else
        {
            WritePrograms(w, s.Loaded, s.Fingerprint, s.BuildFingerprint, (s.Schema, s.BuildSchema), ("physical", s.PhysicalProgramId), ("router", s.RouterProgramId));
            w.WriteStartObject("maps");
            w.WriteNumber("fwd_ports", s.PortEntries);
            w.WriteNumber("fwd_vlans", s.VlanEntries);
            w.WriteEndObject();
        }
        WriteArray(w, "forwarders", s.Ports.Where(p => p.Role == PortRole.Router), r =>
        {
            w.WriteString("name", r.Forwarder);
            w.WriteString("mode", XdpLink.Describe(r.Mode));
            w.WriteStartObject("router");
            WriteFields(w, ("interface", r.Interface), ("ifindex", r.IfIndex), ("attached", r.Attached));
            w.WriteEndObject();
            WriteArray(w, "physical", s.Ports.Where(p => p.Forwarder == r.Forwarder && p.Role == PortRole.Physical), p =>
                WriteFields(w, ("interface", p.Interface), ("ifindex", p.IfIndex), ("vlan", p.Vlan ?? 0), ("attached", p.Attached)));
        });
    }

    /// <summary>loaded, fingerprint, schema (for a subsystem that has one), build_fingerprint,
    /// build_schema, then {name}_program_id of each program that is loaded.</summary>
    private static void WritePrograms(Utf8JsonWriter w, bool loaded, string? fingerprint, string build, (int? Loaded, int Build)? schema,
        params (string Name, uint? Id)[] programs)
    {
        w.WriteBoolean("loaded", loaded);
        w.WriteString("fingerprint", fingerprint);
        if (schema?.Loaded is { } s) w.WriteNumber("schema", s); else if (schema is not null) w.WriteNull("schema");
        w.WriteString("build_fingerprint", build);
        if (schema is { Build: var b }) w.WriteNumber("build_schema", b);
        foreach (var (name, id) in programs)
            if (id is { } value) w.WriteNumber($"{name}_program_id", value);
    }

    /// <summary>Fields in order: booleans, whole numbers, and strings (null as null).</summary>
    private static void WriteFields(Utf8JsonWriter w, params (string Name, object? Value)[] fields)
    {
        foreach (var (name, value) in fields)
        {
            switch (value)
            {
                case bool b: w.WriteBoolean(name, b); break;
                case int or uint or ushort: w.WriteNumber(name, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)); break;
                default: w.WriteString(name, (string?)value); break;
            }
        }
    }

    /// <summary>An array of objects, each written by <paramref name="fields"/>.</summary>
    internal static void WriteArray<T>(Utf8JsonWriter w, string name, IEnumerable<T> items, Action<T> fields)
    {
        w.WriteStartArray(name);
        foreach (var item in items)
        {
            w.WriteStartObject();
            fields(item);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    internal static void WriteStrings(Utf8JsonWriter w, string name, IEnumerable<string> items)
    {
        w.WriteStartArray(name);
        foreach (var item in items) w.WriteStringValue(item);
        w.WriteEndArray();
    }
}
