// Forwarder subsystem (SPEC §7): keeps the XDP forwarder programs loaded (verify once, reuse
// pins), the port and devmap entries in sync with the plan (diff only), and an XDP link on every
// router and physical interface of every forwarder on this host.
using System.Globalization;
using System.Text.Json;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Forwarder;

public sealed partial class ForwarderSubsystem : ISubsystem
{
    public const string SubsystemName = "forwarder";

    private readonly AgentOptions options;
    private readonly ILogger log;
    private readonly EmbeddedObject program;

    public ForwarderSubsystem(AgentOptions options, ILogger log, EmbeddedObject? program = null)
    {
        this.options = options;
        this.log = log;
        this.program = program ?? EmbeddedObject.Load(SubsystemName, ForwarderAbi.ObjectFile, ForwarderAbi.SchemaVersion);
        Pins = new ForwarderPins(options.BpffsFor(SubsystemName));
        State = new RunState(options.RunFor(SubsystemName));
    }

    public string Name => SubsystemName;

    public ForwarderPins Pins { get; }

    public RunState State { get; }

    private bool AllPinned =>
        File.Exists(Pins.PhysicalProgram) && File.Exists(Pins.RouterProgram) && MapsPinned(next: false);

    private bool MapsPinned(bool next) =>
        File.Exists(Pins.Map(ForwarderAbi.PortsMap, next)) && File.Exists(Pins.Map(ForwarderAbi.RoutersMap, next)) && File.Exists(Pins.Map(ForwarderAbi.VlansMap, next));

    /// <summary>True when the pinned programs are this build's and the maps have its schema.</summary>
    public bool IsCurrent => AllPinned && State.Fingerprint == program.Fingerprint && State.Schema == program.Schema;

    public static XdpMode ModeOf(ForwarderMode mode) => mode == ForwarderMode.Native ? XdpMode.Native : XdpMode.Skb;

    private static ForwarderPlan PlanFor(HostState host) =>
        ForwarderPlan.ForHost(host.Config, host.Links.Select(l => (l.Name, l.IfIndex)));

    // ---- apply ----------------------------------------------------------------------------------

    /// <summary>Full pass. Order keeps every frame on a known path: map entries first, then the
    /// links that use them; stale links go before the entries they used.</summary>
    public SubsystemReport Apply(HostState host)
    {
        var plan = PlanFor(host);
        var errors = plan.Problems.Where(p => p.IsError).Select(p => p.ToString()).ToList();
        var warnings = plan.Problems.Where(p => !p.IsError).Select(p => p.ToString()).ToList();
        if (plan.IsEmpty)
        {
            if (!Directory.Exists(Pins.Root)) return new SubsystemReport("no forwarder on this host", errors, warnings);
            int removed = Clear();
            return new SubsystemReport($"no forwarder on this host; removed {removed} link{(removed == 1 ? "" : "s")} and the programs", errors, warnings);
        }

        var (loaded, outcome) = EnsureLoaded(plan);
        using (loaded)
        {
            var routers = MapSync.Diff(DesiredRouters(plan), loaded.Routers.Entries());
            var ports = MapSync.Diff(DesiredPorts(plan), loaded.Ports.Entries());
            var vlans = MapSync.Diff(DesiredVlans(plan), loaded.Vlans.Entries());
            foreach (var (k, v) in routers.Writes) loaded.Routers.Set(k, v);
            foreach (var (k, v) in ports.Writes) loaded.Ports.Update(k, v);
            foreach (var (k, v) in vlans.Writes) loaded.Vlans.Set(k, v);

            var (attached, created, updated) = AttachAll(loaded, plan.Routers, plan.Physicals, errors);
            int removedLinks = DetachStale(attached);

            foreach (var k in vlans.Deletes) loaded.Vlans.Delete(k);
            foreach (var k in ports.Deletes) loaded.Ports.Delete(k);
            foreach (var k in routers.Deletes) loaded.Routers.Delete(k);
            LogSynced(log, ports.Writes.Count, ports.Deletes.Count, vlans.Writes.Count, vlans.Deletes.Count);

            var summary = $"programs {outcome.ToString().ToLowerInvariant()}; " + Describe(plan, attached) +
                $"; maps: ports +{ports.Writes.Count} -{ports.Deletes.Count}, vlans +{vlans.Writes.Count} -{vlans.Deletes.Count}; " +
                $"links +{created} ~{updated} -{removedLinks}";
            return new SubsystemReport(summary, errors, warnings);
        }
    }

    /// <summary>The plug path: a router or physical interface that appeared after the full pass
    /// gets its entries and its link; nothing else is touched. Null when no forwarder names it.</summary>
    public SubsystemReport? Plug(HostState host, Microseg.Netlink.LinkInfo link)
    {
        var plan = PlanFor(host);
        if (!plan.Names(link.Name)) return null;
        var problems = plan.Problems.Where(p => p.Interface == link.Name).ToList();
        var errors = problems.Where(p => p.IsError).Select(p => p.ToString()).ToList();
        var warnings = problems.Where(p => !p.IsError).Select(p => p.ToString()).ToList();
        var router = plan.Routers.FirstOrDefault(r => r.Name == link.Name);
        var physical = plan.Physicals.FirstOrDefault(p => p.Name == link.Name);
        if (router is null && physical is null) return new SubsystemReport($"{link.Name}: not forwarded", errors, warnings);

        // Programs missing or from another build: a full pass covers this interface too.
        if (!IsCurrent) return Apply(host);

        using var loaded = OpenPinned();
        var routers = router is null ? [] : new List<RouterPort> { router };
        var physicals = physical is null ? [] : new List<PhysicalPort> { physical };
        foreach (var (k, v) in DesiredRouters(plan).Where(r => r.Key == (uint)(router?.IfIndex ?? physical!.RouterIfIndex)))
            if (!loaded.Routers.TryLookup(k, out var have) || have != v) loaded.Routers.Set(k, v);
        if (physical is not null)
        {
            var port = new ForwarderPort((uint)physical.RouterIfIndex, physical.VlanId);
            if (!loaded.Ports.TryLookup((uint)physical.IfIndex, out var have) || have != port) loaded.Ports.Update((uint)physical.IfIndex, port);
            if (!loaded.Vlans.TryLookup(physical.VlanId, out var target) || target != physical.IfIndex) loaded.Vlans.Set(physical.VlanId, physical.IfIndex);
        }
        var (attached, created, updated) = AttachAll(loaded, routers, physicals, errors);
        var what = physical is not null
            ? $"physical {physical.Name} (ifindex {physical.IfIndex}) → VLAN {physical.VlanId} on router {physical.Router}, {XdpLink.Describe(ModeOf(physical.Mode))} mode"
            : $"router {router!.Name} (ifindex {router.IfIndex}), {XdpLink.Describe(ModeOf(router.Mode))} mode";
        var state = attached.Count > 0 ? "attached" : "NOT attached";
        return new SubsystemReport($"forwarder {(physical?.Forwarder ?? router!.Forwarder)}: {what} {state}; links +{created} ~{updated}", errors, warnings);
    }

    /// <summary>Detaches every link and removes every pin and the run state.</summary>
    public int Clear()
    {
        int removed = 0;
        foreach (var pin in Pins.Links().ToList())
        {
            TryDetach(pin);
            removed++;
        }
        foreach (var next in new[] { false, true })
            foreach (var map in new[] { ForwarderAbi.PortsMap, ForwarderAbi.RoutersMap, ForwarderAbi.VlansMap })
                if (Directory.Exists(Path.GetDirectoryName(Pins.Map(map, next)))) Bpffs.Unpin(Pins.Map(map, next));
        if (Directory.Exists(Pins.ProgramDirectory))
        {
            Bpffs.Unpin(Pins.PhysicalProgram);
            Bpffs.Unpin(Pins.RouterProgram);
        }
        foreach (var dir in new[] { Pins.LinkDirectory, Pins.ProgramDirectory, Pins.NextDirectory, Pins.Root })
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: false);
        State.Forget();
        return removed;
    }

    private static string Describe(ForwarderPlan plan, IReadOnlySet<(int, PortRole, XdpMode)> attached)
    {
        string Mark(int ifIndex, PortRole role, ForwarderMode mode) => attached.Contains((ifIndex, role, ModeOf(mode))) ? "" : " NOT attached";
        return string.Join("; ", plan.Routers.Select(r =>
        {
            var phys = plan.Physicals.Where(p => p.Forwarder == r.Forwarder).Select(p => $"{p.Name}=VLAN {p.VlanId}{Mark(p.IfIndex, PortRole.Physical, p.Mode)}");
            return $"forwarder {r.Forwarder} ({XdpLink.Describe(ModeOf(r.Mode))}): router {r.Name}{Mark(r.IfIndex, PortRole.Router, r.Mode)}, physical {string.Join(", ", phys.DefaultIfEmpty("none"))}";
        }));
    }

    private static Dictionary<uint, int> DesiredRouters(ForwarderPlan plan) =>
        plan.Routers.ToDictionary(r => (uint)r.IfIndex, r => r.IfIndex);

    private static Dictionary<uint, ForwarderPort> DesiredPorts(ForwarderPlan plan) =>
        plan.Physicals.ToDictionary(p => (uint)p.IfIndex, p => new ForwarderPort((uint)p.RouterIfIndex, p.VlanId));

    private static Dictionary<uint, int> DesiredVlans(ForwarderPlan plan) =>
        plan.Physicals.ToDictionary(p => (uint)p.VlanId, p => p.IfIndex);

    // ---- programs and maps ----------------------------------------------------------------------

    /// <summary>Programs and maps in use, open by fd.</summary>
    internal sealed class Loaded(BpfProgram physical, BpfProgram router, BpfHashMap<uint, ForwarderPort> ports, BpfDevMap routers, BpfDevMap vlans) : IDisposable
    {
        public BpfProgram Physical { get; } = physical;
        public BpfProgram Router { get; } = router;
        public BpfHashMap<uint, ForwarderPort> Ports { get; } = ports;
        public BpfDevMap Routers { get; } = routers;
        public BpfDevMap Vlans { get; } = vlans;
        public BpfProgram Program(PortRole role) => role == PortRole.Physical ? Physical : Router;

        public void Dispose()
        {
            Physical.Dispose(); Router.Dispose(); Ports.Dispose(); Routers.Dispose(); Vlans.Dispose();
        }
    }

    internal Loaded OpenPinned() => new(
        BpfProgram.OpenPinned(Pins.PhysicalProgram), BpfProgram.OpenPinned(Pins.RouterProgram),
        BpfHashMap<uint, ForwarderPort>.OpenPinned(Pins.Map(ForwarderAbi.PortsMap)),
        BpfDevMap.OpenPinned(Pins.Map(ForwarderAbi.RoutersMap)),
        BpfDevMap.OpenPinned(Pins.Map(ForwarderAbi.VlansMap)));

    private (Loaded, LoadOutcome) EnsureLoaded(ForwarderPlan plan)
    {
        Bpffs.EnsureMounted(options.BpffsMountPoint());
        Bpffs.CreateDirectory(Pins.ProgramDirectory);
        Bpffs.CreateDirectory(Pins.LinkDirectory);
        if (IsCurrent)
        {
            LogReused(log, program.Fingerprint[..12]);
            return (OpenPinned(), LoadOutcome.Reused);
        }
        if (MapsPinned(next: false))
        {
            // A new build, same schema or not, gets new maps beside the old ones: libbpf 1.1
            // cannot reuse a pinned devmap (the kernel adds BPF_F_RDONLY_PROG to its flags, and
            // libbpf's compatibility check then refuses it), and the maps are small to refill.
            bool sameSchema = State.Schema == program.Schema;
            return (Replace(plan), sameSchema ? LoadOutcome.Upgraded : LoadOutcome.Migrated);
        }
        var loaded = LoadObject(next: false);
        PinPrograms(loaded);
        State.Record(program.Fingerprint, program.Schema);
        LogLoaded(log, program.Source, program.Fingerprint[..12], program.Schema);
        return (loaded, LoadOutcome.Loaded);
    }

    /// <summary>New programs and maps beside the old ones (the load verifies before anything
    /// changes), the maps filled from the plan, every link switched atomically, then the old maps
    /// removed: no frame meets a half-filled map or a missing program.</summary>
    private Loaded Replace(ForwarderPlan plan)
    {
        Bpffs.CreateDirectory(Pins.NextDirectory);
        foreach (var map in new[] { ForwarderAbi.PortsMap, ForwarderAbi.RoutersMap, ForwarderAbi.VlansMap }) Bpffs.Unpin(Pins.Map(map, next: true));
        Loaded loaded;
        try
        {
            loaded = LoadObject(next: true);
        }
        catch
        {
            foreach (var map in new[] { ForwarderAbi.PortsMap, ForwarderAbi.RoutersMap, ForwarderAbi.VlansMap }) Bpffs.Unpin(Pins.Map(map, next: true));
            throw;
        }
        foreach (var (k, v) in DesiredRouters(plan)) loaded.Routers.Set(k, v);
        foreach (var (k, v) in DesiredPorts(plan)) loaded.Ports.Update(k, v);
        foreach (var (k, v) in DesiredVlans(plan)) loaded.Vlans.Set(k, v);
        var switched = SwitchLinks(loaded);
        foreach (var map in new[] { ForwarderAbi.PortsMap, ForwarderAbi.RoutersMap, ForwarderAbi.VlansMap })
        {
            Bpffs.Unpin(Pins.Map(map));
            File.Move(Pins.Map(map, next: true), Pins.Map(map));
        }
        Directory.Delete(Pins.NextDirectory);
        PinPrograms(loaded);
        var old = State.Schema;
        State.Record(program.Fingerprint, program.Schema);
        LogReplaced(log, program.Fingerprint[..12], old?.ToString(CultureInfo.InvariantCulture) ?? "unknown", program.Schema, switched);
        return loaded;
    }

    private Loaded LoadObject(bool next)
    {
        using var obj = BpfObject.OpenMemory(program.Bytes, ForwarderAbi.ObjectFile);
        foreach (var map in new[] { ForwarderAbi.PortsMap, ForwarderAbi.RoutersMap, ForwarderAbi.VlansMap })
            obj.SetMapPinPath(map, Pins.Map(map, next));
        obj.Load();
        return new Loaded(
            obj.Program(ForwarderAbi.PhysicalProgram), obj.Program(ForwarderAbi.RouterProgram),
            new BpfHashMap<uint, ForwarderPort>(obj.Map(ForwarderAbi.PortsMap)),
            new BpfDevMap(obj.Map(ForwarderAbi.RoutersMap)),
            new BpfDevMap(obj.Map(ForwarderAbi.VlansMap)));
    }

    private void PinPrograms(Loaded loaded)
    {
        foreach (var role in new[] { PortRole.Physical, PortRole.Router })
        {
            Bpffs.Unpin(Pins.Program(role));
            loaded.Program(role).Pin(Pins.Program(role));
        }
    }

    private int SwitchLinks(Loaded loaded)
    {
        int switched = 0;
        foreach (var pin in Pins.Links())
        {
            using var link = XdpLink.OpenPinned(pin.Path);
            if (link.IsDefunct) continue; // reclaimed by the sync that follows
            link.Update(loaded.Program(pin.Role));
            switched++;
        }
        return switched;
    }

    // ---- links ----------------------------------------------------------------------------------

    /// <summary>Attaches (or updates) the links; failures are added to <paramref name="errors"/>,
    /// and a physical interface that cannot be attached is unregistered from fwd_vlans so that
    /// the router cannot send where nothing comes back from.</summary>
    private (HashSet<(int, PortRole, XdpMode)> Attached, int Created, int Updated) AttachAll(
        Loaded loaded, IEnumerable<RouterPort> routers, IEnumerable<PhysicalPort> physicals, List<string> errors)
    {
        var attached = new HashSet<(int, PortRole, XdpMode)>();
        int created = 0, updated = 0;
        var ports = routers.Select(r => (r.Forwarder, r.Name, r.IfIndex, Role: PortRole.Router, Mode: ModeOf(r.Mode), Vlan: (ushort)0))
            .Concat(physicals.Select(p => (p.Forwarder, p.Name, p.IfIndex, Role: PortRole.Physical, Mode: ModeOf(p.Mode), Vlan: p.VlanId)));
        foreach (var p in ports)
        {
            try
            {
                switch (EnsureLink(loaded, p.IfIndex, p.Role, p.Mode, p.Name))
                {
                    case LinkChange.Created: created++; break;
                    case LinkChange.Updated: updated++; break;
                }
                attached.Add((p.IfIndex, p.Role, p.Mode));
            }
            catch (BpfException e)
            {
                LogAttachFailed(log, p.Name, p.IfIndex, e.Message);
                errors.Add($"forwarder {p.Forwarder}: cannot attach to {ForwarderPins.Word(p.Role)} {p.Name}: {e.Message}");
                if (p.Role == PortRole.Physical) loaded.Vlans.Delete(p.Vlan);
            }
        }
        return (attached, created, updated);
    }

    private enum LinkChange { None, Created, Updated }

    private LinkChange EnsureLink(Loaded loaded, int ifIndex, PortRole role, XdpMode mode, string name)
    {
        var prog = loaded.Program(role);
        foreach (var pin in Pins.Links().Where(l => l.IfIndex == ifIndex).ToList())
        {
            using (var existing = XdpLink.OpenPinned(pin.Path))
            {
                var info = existing.Info();
                if (info.IfIndex == ifIndex && pin.Role == role && pin.Mode == mode)
                {
                    if (info.ProgramId == prog.Info().Id) return LinkChange.None;
                    existing.Update(prog);
                    return LinkChange.Updated;
                }
                if (info.IfIndex == 0) LogReclaimed(log, pin.Path);
            }
            // Another role or mode on this interface (native and skb cannot coexist), or a
            // defunct link whose ifindex was recycled: it goes before the new one comes.
            TryDetach(pin);
        }
        using var link = XdpLink.Create(prog, ifIndex, mode);
        link.Pin(Pins.Link(ifIndex, role, mode));
        LogAttached(log, name, ifIndex, ForwarderPins.Word(role), XdpLink.Describe(mode));
        return LinkChange.Created;
    }

    /// <summary>Removes links that the plan does not keep, or whose netdev is gone.</summary>
    private int DetachStale(IReadOnlySet<(int, PortRole, XdpMode)> keep)
    {
        int removed = 0;
        foreach (var pin in Pins.Links().ToList())
        {
            bool defunct;
            using (var link = XdpLink.OpenPinned(pin.Path))
                defunct = link.IsDefunct;
            if (keep.Contains((pin.IfIndex, pin.Role, pin.Mode)) && !defunct) continue;
            TryDetach(pin);
            removed++;
        }
        return removed;
    }

    /// <summary>A failed detach is logged; the pin goes only when the detach worked or the
    /// netdev is gone.</summary>
    private void TryDetach(LinkPin pin)
    {
        try
        {
            using (var link = XdpLink.OpenPinned(pin.Path))
                if (!link.IsDefunct) link.Detach();
            Bpffs.Unpin(pin.Path);
            LogDetached(log, pin.IfIndex, ForwarderPins.Word(pin.Role));
        }
        catch (BpfException e)
        {
            LogDetachFailed(log, pin.Path, e.Message);
        }
    }

    // ---- status ---------------------------------------------------------------------------------

    public SubsystemStatus Status(HostState host)
    {
        var plan = PlanFor(host);
        var warnings = plan.Problems.Select(p => p.ToString()).ToList();
        var names = host.Links.ToDictionary(l => l.IfIndex, l => l.Name);
        if (!AllPinned)
        {
            if (!plan.IsEmpty) warnings.Add("forwarders are configured here but nothing is loaded: run 'microseg apply'");
            var line = plan.IsEmpty ? "not loaded (no forwarder on this host)" : "not loaded";
            return new SubsystemStatus(Name, [line], warnings, w =>
            {
                w.WriteStartObject();
                w.WriteBoolean("loaded", false);
                w.WriteStartArray("forwarders");
                w.WriteEndArray();
                w.WriteEndObject();
            });
        }

        using var loaded = OpenPinned();
        uint physicalId = loaded.Physical.Info().Id, routerId = loaded.Router.Info().Id;
        var links = new List<(LinkPin Pin, BpfLinkInfo Info)>();
        foreach (var pin in Pins.Links())
        {
            using var link = XdpLink.OpenPinned(pin.Path);
            var info = link.Info();
            links.Add((pin, info));
            if (info.IfIndex == 0) warnings.Add($"link pin {pin.Path} outlived its netdev (ifindex {pin.IfIndex}); the next apply reclaims it");
        }
        bool Attached(int ifIndex, PortRole role, ForwarderMode mode) => links.Any(l =>
            l.Pin.IfIndex == ifIndex && l.Pin.Role == role && l.Pin.Mode == ModeOf(mode) && l.Info.IfIndex == ifIndex &&
            l.Info.ProgramId == (role == PortRole.Physical ? physicalId : routerId));
        var ports = loaded.Ports.Count();
        var vlans = loaded.Vlans.Entries();
        var lines = new List<string>
        {
            $"programs: loaded, fingerprint {State.Fingerprint?[..12]}, schema {State.Schema}, physical #{physicalId} router #{routerId}",
            $"maps: fwd_ports {ports} entries, fwd_vlans {vlans.Count} entries, fwd_routers {loaded.Routers.Entries().Count} entries",
        };
        var table = new List<(string Forwarder, string Role, string Interface, int IfIndex, string Vlan, string Mode, bool Attached)>();
        foreach (var r in plan.Routers)
        {
            table.Add((r.Forwarder, "router", r.Name, r.IfIndex, "-", XdpLink.Describe(ModeOf(r.Mode)), Attached(r.IfIndex, PortRole.Router, r.Mode)));
            foreach (var p in plan.Physicals.Where(p => p.Forwarder == r.Forwarder))
                table.Add((p.Forwarder, "physical", p.Name, p.IfIndex, p.VlanId.ToString(CultureInfo.InvariantCulture), XdpLink.Describe(ModeOf(p.Mode)),
                    Attached(p.IfIndex, PortRole.Physical, p.Mode) && vlans.Any(v => v.Key == p.VlanId && v.Value == p.IfIndex)));
        }
        foreach (var t in table.Where(t => !t.Attached))
            warnings.Add($"forwarder {t.Forwarder}: {t.Role} {t.Interface} (ifindex {t.IfIndex}) is not attached: run 'microseg apply' (or 'microseg apply {t.Interface}')");
        foreach (var (pin, _) in links.Where(l => !table.Any(t => t.IfIndex == l.Pin.IfIndex && t.Role == ForwarderPins.Word(l.Pin.Role))))
            warnings.Add($"{ForwarderPins.Word(pin.Role)} link on {names.GetValueOrDefault(pin.IfIndex) ?? $"ifindex {pin.IfIndex}"} is no longer configured: the next apply removes it");
        if (State.Fingerprint != program.Fingerprint)
            warnings.Add($"loaded programs ({State.Fingerprint?[..12] ?? "unknown"}) are not this build's ({program.Fingerprint[..12]}): the next apply upgrades them");

        var width = table.Count == 0 ? 0 : table.Max(t => t.Interface.Length);
        foreach (var t in table)
            lines.Add($"{t.Forwarder}: {t.Role,-8} {t.Interface.PadRight(width)} ifindex {t.IfIndex,-5} vlan {t.Vlan,-4} {t.Mode,-6} {(t.Attached ? "attached" : "MISSING")}");
        return new SubsystemStatus(Name, lines, warnings, w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("loaded", true);
            w.WriteString("fingerprint", State.Fingerprint);
            if (State.Schema is { } schema) w.WriteNumber("schema", schema); else w.WriteNull("schema");
            w.WriteString("build_fingerprint", program.Fingerprint);
            w.WriteNumber("build_schema", program.Schema);
            w.WriteNumber("physical_program_id", physicalId);
            w.WriteNumber("router_program_id", routerId);
            w.WriteStartObject("maps");
            w.WriteNumber("fwd_ports", ports);
            w.WriteNumber("fwd_vlans", vlans.Count);
            w.WriteEndObject();
            w.WriteStartArray("forwarders");
            foreach (var r in plan.Routers)
            {
                w.WriteStartObject();
                w.WriteString("name", r.Forwarder);
                w.WriteString("mode", XdpLink.Describe(ModeOf(r.Mode)));
                w.WriteStartObject("router");
                w.WriteString("interface", r.Name);
                w.WriteNumber("ifindex", r.IfIndex);
                w.WriteBoolean("attached", table.First(t => t.Role == "router" && t.IfIndex == r.IfIndex).Attached);
                w.WriteEndObject();
                w.WriteStartArray("physical");
                foreach (var t in table.Where(t => t.Forwarder == r.Forwarder && t.Role == "physical"))
                {
                    w.WriteStartObject();
                    w.WriteString("interface", t.Interface);
                    w.WriteNumber("ifindex", t.IfIndex);
                    w.WriteNumber("vlan", int.Parse(t.Vlan, CultureInfo.InvariantCulture));
                    w.WriteBoolean("attached", t.Attached);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "forwarder programs reused from pins (fingerprint {Fingerprint})")]
    private static partial void LogReused(ILogger log, string fingerprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "forwarder programs loaded from {Source} (fingerprint {Fingerprint}, schema {Schema})")]
    private static partial void LogLoaded(ILogger log, string source, string fingerprint, int schema);

    [LoggerMessage(Level = LogLevel.Information, Message = "forwarder programs replaced by {Fingerprint} with new maps (schema {Old} -> {New}): {Links} links switched atomically")]
    private static partial void LogReplaced(ILogger log, string fingerprint, string old, int @new, int links);

    [LoggerMessage(Level = LogLevel.Information, Message = "forwarder maps synced: fwd_ports +{PortsWritten} -{PortsRemoved}, fwd_vlans +{VlansWritten} -{VlansRemoved}")]
    private static partial void LogSynced(ILogger log, int portsWritten, int portsRemoved, int vlansWritten, int vlansRemoved);

    [LoggerMessage(Level = LogLevel.Debug, Message = "attached forwarder {Role} program to {Interface} (ifindex {IfIndex}) in {Mode} mode")]
    private static partial void LogAttached(ILogger log, string @interface, int ifIndex, string role, string mode);

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot attach the forwarder to {Interface} (ifindex {IfIndex}): {Error}")]
    private static partial void LogAttachFailed(ILogger log, string @interface, int ifIndex, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "reclaimed forwarder link pin {Pin}: its netdev is gone")]
    private static partial void LogReclaimed(ILogger log, string pin);

    [LoggerMessage(Level = LogLevel.Debug, Message = "detached forwarder {Role} program from ifindex {IfIndex}")]
    private static partial void LogDetached(ILogger log, int ifIndex, string role);

    [LoggerMessage(Level = LogLevel.Warning, Message = "detach {Pin} failed (the interface keeps forwarding): {Error}")]
    private static partial void LogDetachFailed(ILogger log, string pin, string error);
}
