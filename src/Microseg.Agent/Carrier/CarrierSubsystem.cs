// Carrier subsystem (SPEC §5.2): keeps the SRv6 tag programs loaded (verify once, reuse pins,
// upgrade by switching links atomically) and a tcx link pair on every carrier interface of this
// node; checks that vxlan devices on bridges with enforced NICs carry the group (gbp).
using System.Globalization;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Netlink;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Carrier;

/// <summary>How the programs were obtained: reused from pins, loaded fresh, or switched to a new build.</summary>

public sealed partial class CarrierSubsystem : ISubsystem
{
    public const string SubsystemName = "carrier";

    private readonly AgentOptions options;
    private readonly ILogger log;
    private readonly EmbeddedObject program;

    public CarrierSubsystem(AgentOptions options, ILogger log, EmbeddedObject? program = null)
    {
        this.options = options;
        this.log = log;
        this.program = program ?? EmbeddedObject.Load(SubsystemName, CarrierAbi.ObjectFile, CarrierAbi.SchemaVersion);
        Pins = new CarrierPins(options.BpffsFor(SubsystemName));
        State = new RunState(options.RunFor(SubsystemName));
        Links = new TcxLinkPins(Pins.LinkDirectory, log);
    }

    public string Name => SubsystemName;

    public CarrierPins Pins { get; }
    public RunState State { get; }
    public TcxLinkPins Links { get; }

    /// <summary>True when the pinned programs are this build's.</summary>
    public bool IsCurrent => Pins.ProgramsPresent && State.Fingerprint == program.Fingerprint && State.Schema == program.Schema;

    public SubsystemReport Apply(HostState host)
    {
        var plan = CarrierPlan.For(host);
        var vxlan = VxlanSummary(plan);
        if (plan.Interfaces.Count == 0)
        {
            // Nothing to tag on this node: links and programs left by an earlier config go.
            int removed = Links.DetachStale(new HashSet<int>());
            bool unloaded = Unload();
            var summary = "no SRv6 carrier interface on this node" + (removed > 0 || unloaded ? $"; links -{removed}, programs unloaded" : "") + vxlan;
            return new SubsystemReport(summary, [], plan.Warnings);
        }

        var errors = new List<string>();
        if (!BpfFeatures.Tcx.IsSupported)
            return new SubsystemReport("SRv6 carrier not attached", [$"cannot attach the SRv6 carrier: {BpfFeatures.Tcx.Reason}"], plan.Warnings);
        Loaded loaded;
        LoadOutcome outcome;
        int switched;
        try
        {
            (loaded, outcome, switched) = EnsureLoaded();
        }
        catch (BpfException e)
        {
            // The old programs (if any) stay attached and pinned: nothing changed.
            return new SubsystemReport("SRv6 carrier programs not loaded", [$"load the SRv6 carrier programs: {e.Message}"], plan.Warnings);
        }
        using (loaded)
        {
            var (attached, created, updated) = AttachAll(loaded, plan.Interfaces, errors);
            int removed = Links.DetachStale(plan.Interfaces.Select(i => i.IfIndex).ToHashSet());
            var summary = $"programs {Word(outcome, switched)}; SRv6 tag on {(attached.Count > 0 ? string.Join(", ", attached) : "no interface")}; links +{created} ~{updated} -{removed}{vxlan}";
            return new SubsystemReport(summary, errors, plan.Warnings);
        }
    }

    public SubsystemReport? Plug(HostState host, LinkInfo link)
    {
        var plan = CarrierPlan.For(host);
        if (plan.Interfaces.FirstOrDefault(i => i.IfIndex == link.IfIndex) is { } itf)
        {
            if (!BpfFeatures.Tcx.IsSupported)
                return new SubsystemReport("SRv6 carrier not attached", [$"cannot attach the SRv6 carrier to {itf.Name}: {BpfFeatures.Tcx.Reason}"], []);
            var errors = new List<string>();
            try
            {
                var (loaded, outcome, switched) = EnsureLoaded();
                using (loaded)
                {
                    var (attached, created, updated) = AttachAll(loaded, [itf], errors);
                    return new SubsystemReport($"programs {Word(outcome, switched)}; SRv6 tag on {(attached.Count > 0 ? itf.Name : "no interface")}; links +{created} ~{updated} -0", errors, []);
                }
            }
            catch (BpfException e)
            {
                return new SubsystemReport("SRv6 carrier programs not loaded", [$"load the SRv6 carrier programs: {e.Message}"], []);
            }
        }
        // A NIC, bridge or vxlan device that puts enforced traffic on a vxlan device without gbp.
        var lacking = plan.Vxlans.Where(v => v.LacksGbp &&
            (v.IfIndex == link.IfIndex || v.BridgeIfIndex == link.IfIndex ||
             (v.BridgeIfIndex == link.MasterIfIndex && host.EnforcedIfIndexes.Contains(link.IfIndex)))).ToList();
        if (lacking.Count == 0) return null;
        return new SubsystemReport("no change", [],
            [.. lacking.Select(v => CarrierPlan.GbpWarning(v, host.Links.First(l => l.IfIndex == v.IfIndex)))]);
    }

    public int Clear()
    {
        int removed = Links.DetachAll();
        Unload();
        return removed;
    }

    public SubsystemStatus Status(HostState host)
    {
        var plan = CarrierPlan.For(host);
        var lines = new List<string>();
        var warnings = new List<string>(plan.Warnings);
        var names = host.Links.GroupBy(l => l.IfIndex).ToDictionary(g => g.Key, g => g.First().Name);

        uint? ingressId = null, egressId = null;
        if (Pins.ProgramsPresent)
        {
            using (var ingress = BpfProgram.OpenPinned(Pins.Program(TcxDirection.Ingress))) ingressId = ingress.Info().Id;
            using (var egress = BpfProgram.OpenPinned(Pins.Program(TcxDirection.Egress))) egressId = egress.Info().Id;
            lines.Add($"programs:  loaded, fingerprint {State.Fingerprint?[..Math.Min(12, State.Fingerprint.Length)] ?? "unknown"}, ingress #{ingressId} egress #{egressId}");
            if (State.Fingerprint != program.Fingerprint)
                warnings.Add($"loaded carrier programs ({State.Fingerprint?[..Math.Min(12, State.Fingerprint.Length)] ?? "unknown"}) are not this build's ({program.Fingerprint[..12]}): the next apply upgrades them");
        }
        else
            lines.Add(plan.Interfaces.Count > 0 ? "programs:  not loaded" : "programs:  not loaded (no SRv6 carrier interface on this node)");

        var links = Links.Inspect();
        foreach (var l in links)
        {
            if (l.Defunct) warnings.Add(l.DefunctWarning);
            else if (plan.Interfaces.All(i => i.IfIndex != l.IfIndex))
                warnings.Add($"{names.GetValueOrDefault(l.IfIndex) ?? $"ifindex {l.IfIndex}"} carries the SRv6 tag programs but is no carrier interface of this node: the next apply detaches them");
        }
        bool Attached(CarrierInterface itf, TcxDirection d) => links.Any(l => l.IfIndex == itf.IfIndex && l.Direction == d && !l.Defunct);
        var interfaces = plan.Interfaces.Select(i => (Itf: i, Ingress: Attached(i, TcxDirection.Ingress), Egress: Attached(i, TcxDirection.Egress))).ToList();
        foreach (var (itf, ingress, egress) in interfaces)
        {
            lines.Add($"{itf.Name + ":",-10} ifindex {itf.IfIndex}, SRv6 tag ingress {(ingress ? "attached" : "missing")}, egress {(egress ? "attached" : "missing")}");
            if (!ingress || !egress)
                warnings.Add($"carrier interface {itf.Name} is not fully attached (ingress {(ingress ? "attached" : "missing")}, egress {(egress ? "attached" : "missing")}): run 'microseg apply'");
        }
        foreach (var missing in plan.Missing) lines.Add($"{missing + ":",-10} configured, but no such interface here");
        foreach (var vx in plan.Vxlans)
            lines.Add($"vxlan {vx.Name}: VNI {vx.Vni} on bridge {vx.Bridge}, gbp {(vx.Gbp ? "on" : "OFF")}, {vx.EnforcedNics} enforced NIC{(vx.EnforcedNics == 1 ? "" : "s")} on the bridge");

        return new SubsystemStatus(Name, lines, warnings, w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("loaded", Pins.ProgramsPresent);
            w.WriteString("fingerprint", State.Fingerprint);
            w.WriteString("build_fingerprint", program.Fingerprint);
            if (ingressId is { } i) w.WriteNumber("ingress_program_id", i);
            if (egressId is { } e) w.WriteNumber("egress_program_id", e);
            w.WriteStartArray("interfaces");
            foreach (var (itf, ingress, egress) in interfaces)
            {
                w.WriteStartObject();
                w.WriteString("name", itf.Name);
                w.WriteNumber("ifindex", itf.IfIndex);
                w.WriteBoolean("ingress", ingress);
                w.WriteBoolean("egress", egress);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("missing");
            foreach (var missing in plan.Missing) w.WriteStringValue(missing);
            w.WriteEndArray();
            w.WriteStartArray("vxlan");
            foreach (var vx in plan.Vxlans)
            {
                w.WriteStartObject();
                w.WriteString("name", vx.Name);
                w.WriteNumber("ifindex", vx.IfIndex);
                w.WriteNumber("vni", vx.Vni);
                w.WriteString("bridge", vx.Bridge);
                w.WriteBoolean("gbp", vx.Gbp);
                w.WriteNumber("enforced_nics", vx.EnforcedNics);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static string VxlanSummary(CarrierPlan plan) => plan.Vxlans.Count == 0 ? "" :
        "; vxlan " + string.Join(", ", plan.Vxlans.Select(v => $"{v.Name} on {v.Bridge} (gbp {(v.Gbp ? "on" : "OFF")})"));

    private static string Word(LoadOutcome load, int switched) =>
        load.ToString().ToLowerInvariant() + (load == LoadOutcome.Upgraded ? $" ({switched} link{(switched == 1 ? "" : "s")} switched atomically)" : "");

    // ---- programs ---------------------------------------------------------------------------

    /// <summary>The programs in use, open by fd.</summary>
    private sealed class Loaded(BpfProgram ingress, BpfProgram egress) : IDisposable
    {
        public BpfProgram Program(TcxDirection d) => d == TcxDirection.Ingress ? ingress : egress;

        public void Dispose()
        {
            ingress.Dispose();
            egress.Dispose();
        }
    }

    private Loaded OpenPinned() => new(
        BpfProgram.OpenPinned(Pins.Program(TcxDirection.Ingress)), BpfProgram.OpenPinned(Pins.Program(TcxDirection.Egress)));

    /// <summary>Reuses this build's pinned programs; otherwise loads them (the verifier runs
    /// before anything changes), switches every live link to them atomically, and pins them.</summary>
    private (Loaded, LoadOutcome, int Switched) EnsureLoaded()
    {
        Bpffs.EnsureMounted(options.BpffsMountPoint());
        Bpffs.CreateDirectory(Pins.ProgramDirectory);
        Bpffs.CreateDirectory(Pins.LinkDirectory);
        if (IsCurrent)
        {
            LogReused(log, program.Fingerprint[..12]);
            return (OpenPinned(), LoadOutcome.Reused, 0);
        }
        var previous = Pins.ProgramsPresent ? State.Fingerprint : null;
        Loaded loaded;
        using (var obj = BpfObject.OpenMemory(program.Bytes, CarrierAbi.ObjectFile))
        {
            obj.Load();
            loaded = new Loaded(obj.Program(CarrierAbi.IngressProgram), obj.Program(CarrierAbi.EgressProgram));
        }
        try
        {
            int switched = Links.SwitchAll(loaded.Program);
            foreach (var d in TcxLinkPins.Directions)
            {
                Bpffs.Unpin(Pins.Program(d));
                loaded.Program(d).Pin(Pins.Program(d));
            }
            State.Record(program.Fingerprint, program.Schema);
            if (previous is null && switched == 0)
            {
                LogLoaded(log, program.Source, program.Fingerprint[..12]);
                return (loaded, LoadOutcome.Loaded, 0);
            }
            LogUpgraded(log, previous?[..Math.Min(12, previous.Length)] ?? "unknown", program.Fingerprint[..12], switched);
            return (loaded, LoadOutcome.Upgraded, switched);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>Unpins the programs and forgets the run state; true when there was something.</summary>
    private bool Unload()
    {
        bool any = false;
        foreach (var d in TcxLinkPins.Directions) any |= Bpffs.Unpin(Pins.Program(d));
        foreach (var dir in new[] { Pins.LinkDirectory, Pins.ProgramDirectory, Pins.Root })
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
        State.Forget();
        return any;
    }

    // ---- links ------------------------------------------------------------------------------

    private (List<string> Attached, int Created, int Updated) AttachAll(Loaded loaded, IReadOnlyList<CarrierInterface> interfaces, List<string> errors)
    {
        var attached = new List<string>();
        int created = 0, updated = 0;
        foreach (var itf in interfaces)
        {
            try
            {
                foreach (var d in TcxLinkPins.Directions)
                {
                    switch (Links.Ensure(itf.Name, itf.IfIndex, d, loaded.Program(d)))
                    {
                        case LinkChange.Created: created++; break;
                        case LinkChange.Updated: updated++; break;
                    }
                }
                attached.Add(itf.Name);
            }
            catch (BpfException e)
            {
                LogAttachFailed(log, itf.Name, itf.IfIndex, e.Message);
                errors.Add($"cannot attach the SRv6 carrier to {itf.Name} (ifindex {itf.IfIndex.ToString(CultureInfo.InvariantCulture)}): {e.Message}");
            }
        }
        return (attached, created, updated);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "carrier programs reused from pins (fingerprint {Fingerprint})")]
    private static partial void LogReused(ILogger log, string fingerprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "carrier programs loaded from {Source} (fingerprint {Fingerprint})")]
    private static partial void LogLoaded(ILogger log, string source, string fingerprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "carrier programs upgraded {Old} -> {New}: {Links} links switched atomically")]
    private static partial void LogUpgraded(ILogger log, string old, string @new, int links);


    [LoggerMessage(Level = LogLevel.Error, Message = "cannot attach the SRv6 carrier to {Interface} (ifindex {IfIndex}): {Error}")]
    private static partial void LogAttachFailed(ILogger log, string @interface, int ifIndex, string error);



}
