// Forwarder subsystem (SPEC §7): keeps the XDP forwarder programs loaded (verify once, reuse
// pins), the port and devmap entries in sync with the plan (diff only), and an XDP link on every
// router and physical interface of every forwarder on this host.
using System.Globalization;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Forwarder;

public sealed partial class ForwarderSubsystem : Subsystem
{
    public const string SubsystemName = "forwarder";

    public ForwarderSubsystem(AgentOptions options, ILogger log, EmbeddedObject? program = null)
        : base(SubsystemName, options, log, program ?? EmbeddedObject.Load(SubsystemName, ForwarderAbi.ObjectFile, ForwarderAbi.SchemaVersion))
    {
        Pins = new ForwarderPins(options.BpffsFor(SubsystemName));
        Links = new ForwarderLinkPins(Pins.LinkDirectory, log);
    }

    public ForwarderPins Pins { get; }

    public ForwarderLinkPins Links { get; }

    protected override bool Pinned => Pins.AllPresent;

    private static ForwarderPlan PlanFor(HostState host) =>
        ForwarderPlan.ForHost(host.Config, host.Links.Select(l => (l.Name, l.IfIndex)), host.Node);

    public override SubsystemReport Apply(HostState host)
    {
        using var _ = SubsystemLock.Exclusive(State.LockPath);
        return Sync(PlanFor(host));
    }

    /// <summary>Full pass. Order keeps every frame on a known path: map entries first, then the
    /// links that use them; stale links go before the entries they used.</summary>
    private SubsystemReport Sync(ForwarderPlan plan)
    {
        var errors = plan.Problems.Where(p => p.IsError).Select(p => p.ToString()).ToList();
        var warnings = plan.Problems.Where(p => !p.IsError).Select(p => p.ToString()).ToList();
        if (plan.IsEmpty)
        {
            if (!Directory.Exists(Pins.Root)) return new SubsystemReport(Name, "no forwarder on this host", errors, warnings);
            int removed = Remove();
            State.Forget();
            return new SubsystemReport(Name, $"no forwarder on this host; removed {removed} link{(removed == 1 ? "" : "s")} and the programs", errors, warnings);
        }

        var (loaded, outcome) = EnsureLoaded(plan);
        using (loaded)
        {
            var routers = MapSync.Diff(plan.RouterEntries, loaded.Routers.Entries());
            var ports = MapSync.Diff(plan.PortEntries, loaded.Ports.Entries());
            var vlans = MapSync.Diff(plan.VlanEntries, loaded.Vlans.Entries());
            foreach (var (k, v) in routers.Writes) loaded.Routers.Set(k, v);
            foreach (var (k, v) in ports.Writes) loaded.Ports.Update(k, v);
            foreach (var (k, v) in vlans.Writes) loaded.Vlans.Set(k, v);

            var (attached, created, updated) = AttachAll(loaded, plan.Routers, plan.Physicals, errors);
            int removedLinks = Links.DetachStale(attached.Contains);

            foreach (var k in vlans.Deletes) loaded.Vlans.Delete(k);
            foreach (var k in ports.Deletes) loaded.Ports.Delete(k);
            foreach (var k in routers.Deletes) loaded.Routers.Delete(k);
            LogSynced(Log, ports.Writes.Count, ports.Deletes.Count, vlans.Writes.Count, vlans.Deletes.Count);

            var summary = $"programs {outcome.ToString().ToLowerInvariant()}; " + Describe(plan, attached) +
                $"; maps: ports +{ports.Writes.Count} -{ports.Deletes.Count}, vlans +{vlans.Writes.Count} -{vlans.Deletes.Count}; " +
                $"links +{created} ~{updated} -{removedLinks}";
            return new SubsystemReport(Name, summary, errors, warnings);
        }
    }

    /// <summary>The plug path: a router or physical interface that appeared after the full pass
    /// gets its entries and its link; nothing else is touched. Null when no forwarder names it.</summary>
    public override SubsystemReport? Plug(HostState host, string name)
    {
        if (host.Link(name) is null) return null;
        var plan = PlanFor(host);
        if (!plan.Names(name)) return null;
        var problems = plan.Problems.Where(p => p.Interface == name).ToList();
        var errors = problems.Where(p => p.IsError).Select(p => p.ToString()).ToList();
        var warnings = problems.Where(p => !p.IsError).Select(p => p.ToString()).ToList();
        var router = plan.Routers.FirstOrDefault(r => r.Name == name);
        var physical = plan.Physicals.FirstOrDefault(p => p.Name == name);
        if (router is null && physical is null) return new SubsystemReport(Name, $"{name}: not forwarded", errors, warnings);

        using var _ = SubsystemLock.Exclusive(State.LockPath);
        // Programs missing or from another build: a full pass covers this interface too.
        if (!IsCurrent) return Sync(plan);

        using var loaded = OpenPinned();
        var routerIfIndex = (uint)(router?.IfIndex ?? physical!.RouterIfIndex);
        if (!loaded.Routers.TryLookup(routerIfIndex, out var have) || have != (int)routerIfIndex) loaded.Routers.Set(routerIfIndex, (int)routerIfIndex);
        if (physical is not null)
        {
            var port = new ForwarderPort((uint)physical.RouterIfIndex, physical.VlanId);
            if (!loaded.Ports.TryLookup((uint)physical.IfIndex, out var current) || current != port) loaded.Ports.Update((uint)physical.IfIndex, port);
            if (!loaded.Vlans.TryLookup(physical.VlanId, out var target) || target != physical.IfIndex) loaded.Vlans.Set(physical.VlanId, physical.IfIndex);
        }
        var (attached, created, updated) = AttachAll(loaded, router is null ? [] : [router], physical is null ? [] : [physical], errors);
        var what = physical is not null
            ? $"physical {physical.Name} (ifindex {physical.IfIndex}) → VLAN {physical.VlanId} on router {physical.Router}, {XdpLink.Describe(physical.Slot.Mode)} mode"
            : $"router {router!.Name} (ifindex {router.IfIndex}), {XdpLink.Describe(router.Slot.Mode)} mode";
        var state = attached.Count > 0 ? "attached" : "NOT attached";
        return new SubsystemReport(Name, $"forwarder {(physical?.Forwarder ?? router!.Forwarder)}: {what} {state}; links +{created} ~{updated}", errors, warnings);
    }

    protected override int Remove()
    {
        int removed = Links.DetachAll();
        foreach (var next in new[] { false, true })
            foreach (var map in ForwarderPins.Maps)
                if (Directory.Exists(Path.GetDirectoryName(Pins.Map(map, next)))) Bpffs.Unpin(Pins.Map(map, next));
        if (Directory.Exists(Pins.ProgramDirectory))
            foreach (var role in new[] { PortRole.Physical, PortRole.Router }) Bpffs.Unpin(Pins.Program(role));
        foreach (var dir in new[] { Pins.LinkDirectory, Pins.ProgramDirectory, Pins.NextDirectory, Pins.Root })
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: false);
        return removed;
    }

    private static string Describe(ForwarderPlan plan, IReadOnlySet<ForwarderSlot> attached)
    {
        string Mark(ForwarderSlot slot) => attached.Contains(slot) ? "" : " NOT attached";
        return string.Join("; ", plan.Routers.Select(r =>
        {
            var phys = plan.Physicals.Where(p => p.Forwarder == r.Forwarder).Select(p => $"{p.Name}=VLAN {p.VlanId}{Mark(p.Slot)}");
            return $"forwarder {r.Forwarder} ({XdpLink.Describe(r.Slot.Mode)}): router {r.Name}{Mark(r.Slot)}, physical {string.Join(", ", phys.DefaultIfEmpty("none"))}";
        }));
    }

    // ---- status ---------------------------------------------------------------------------------

    public override ForwarderStatus? Status(HostState host)
    {
        if (!host.HasSnapshot) return null;
        var plan = PlanFor(host);
        var warnings = plan.Problems.Select(p => p.ToString()).ToList();
        if (!Pins.AllPresent)
        {
            if (!plan.IsEmpty) warnings.Add("forwarders are configured here but nothing is loaded: run 'microseg apply'");
            return new ForwarderStatus(false, !plan.IsEmpty, State.Fingerprint, State.Schema, Program.Fingerprint, Program.Schema,
                null, null, 0, 0, 0, [], warnings);
        }

        using var loaded = OpenPinned();
        uint physicalId = loaded.Physical.Info().Id, routerId = loaded.Router.Info().Id;
        var links = Links.Inspect();
        warnings.AddRange(links.Where(l => l.Defunct).Select(l => l.DefunctWarning));
        bool Attached(ForwarderSlot slot) => links.Any(l =>
            l.Slot == slot && l.LinkIfIndex == slot.IfIndex && l.ProgramId == (slot.Role == PortRole.Physical ? physicalId : routerId));
        var vlans = loaded.Vlans.Entries();
        var ports = new List<ForwarderPortStatus>();
        foreach (var r in plan.Routers)
        {
            ports.Add(new ForwarderPortStatus(r.Forwarder, PortRole.Router, r.Name, r.IfIndex, null, r.Slot.Mode, Attached(r.Slot)));
            foreach (var p in plan.Physicals.Where(p => p.Forwarder == r.Forwarder))
                ports.Add(new ForwarderPortStatus(p.Forwarder, PortRole.Physical, p.Name, p.IfIndex, p.VlanId, p.Slot.Mode,
                    Attached(p.Slot) && vlans.Any(v => v.Key == p.VlanId && v.Value == p.IfIndex)));
        }
        foreach (var t in ports.Where(t => !t.Attached))
            warnings.Add($"forwarder {t.Forwarder}: {ForwarderSlot.Word(t.Role)} {t.Interface} (ifindex {t.IfIndex}) is not attached: run 'microseg apply' (or 'microseg apply {t.Interface}')");
        var names = host.Links.ToDictionary(l => l.IfIndex, l => l.Name);
        foreach (var l in links.Where(l => !ports.Any(t => t.IfIndex == l.Slot.IfIndex && t.Role == l.Slot.Role)))
            warnings.Add($"{ForwarderSlot.Word(l.Slot.Role)} link on {names.GetValueOrDefault(l.Slot.IfIndex) ?? $"ifindex {l.Slot.IfIndex}"} is no longer configured: the next apply removes it");
        if (StaleWarning() is { } stale) warnings.Add(stale);
        return new ForwarderStatus(true, !plan.IsEmpty, State.Fingerprint, State.Schema, Program.Fingerprint, Program.Schema,
            physicalId, routerId, loaded.Ports.Count(), vlans.Count, loaded.Routers.Entries().Count, ports, warnings);
    }

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
        BpfProgram.OpenPinned(Pins.Program(PortRole.Physical)), BpfProgram.OpenPinned(Pins.Program(PortRole.Router)),
        BpfHashMap<uint, ForwarderPort>.OpenPinned(Pins.Map(ForwarderAbi.PortsMap)),
        BpfDevMap.OpenPinned(Pins.Map(ForwarderAbi.RoutersMap)),
        BpfDevMap.OpenPinned(Pins.Map(ForwarderAbi.VlansMap)));

    private (Loaded, LoadOutcome) EnsureLoaded(ForwarderPlan plan)
    {
        if (ReadyToLoad(Pins.ProgramDirectory, Pins.LinkDirectory)) return (OpenPinned(), LoadOutcome.Reused);
        if (Pins.MapsPresent())
        {
            // A new build, same schema or not, gets new maps beside the old ones: libbpf 1.1
            // cannot reuse a pinned devmap (the kernel adds BPF_F_RDONLY_PROG to its flags, and
            // libbpf's compatibility check then refuses it), and the maps are small to refill.
            bool sameSchema = State.Schema == Program.Schema;
            return (Replace(plan), sameSchema ? LoadOutcome.Upgraded : LoadOutcome.Migrated);
        }
        var loaded = LoadObject(next: false);
        PinPrograms(loaded);
        RecordLoaded(fresh: true);
        return (loaded, LoadOutcome.Loaded);
    }

    /// <summary>New programs and maps beside the old ones (the load verifies before anything
    /// changes), the maps filled from the plan, every link switched atomically, then the old maps
    /// removed: no frame meets a half-filled map or a missing program.</summary>
    private Loaded Replace(ForwarderPlan plan)
    {
        Bpffs.CreateDirectory(Pins.NextDirectory);
        foreach (var map in ForwarderPins.Maps) Bpffs.Unpin(Pins.Map(map, next: true));
        Loaded loaded;
        try
        {
            loaded = LoadObject(next: true);
        }
        catch
        {
            foreach (var map in ForwarderPins.Maps) Bpffs.Unpin(Pins.Map(map, next: true));
            throw;
        }
        foreach (var (k, v) in plan.RouterEntries) loaded.Routers.Set(k, v);
        foreach (var (k, v) in plan.PortEntries) loaded.Ports.Update(k, v);
        foreach (var (k, v) in plan.VlanEntries) loaded.Vlans.Set(k, v);
        var switched = Links.SwitchAll(slot => loaded.Program(slot.Role));
        foreach (var map in ForwarderPins.Maps)
        {
            Bpffs.Unpin(Pins.Map(map));
            File.Move(Pins.Map(map, next: true), Pins.Map(map));
        }
        Directory.Delete(Pins.NextDirectory);
        PinPrograms(loaded);
        var old = State.Schema;
        RecordLoaded(fresh: false);
        LogReplaced(Log, Program.Fingerprint[..12], old?.ToString(CultureInfo.InvariantCulture) ?? "unknown", Program.Schema, switched);
        return loaded;
    }

    private Loaded LoadObject(bool next)
    {
        using var obj = BpfObject.OpenMemory(Program.Bytes, ForwarderAbi.ObjectFile);
        foreach (var map in ForwarderPins.Maps)
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

    /// <summary>Attaches (or updates) the links; failures are added to <paramref name="errors"/>,
    /// and a physical interface that cannot be attached is unregistered from fwd_vlans so that
    /// the router cannot send where nothing comes back from.</summary>
    private (HashSet<ForwarderSlot> Attached, int Created, int Updated) AttachAll(
        Loaded loaded, IEnumerable<RouterPort> routers, IEnumerable<PhysicalPort> physicals, List<string> errors)
    {
        var ports = routers.Select(r => (r.Forwarder, r.Name, r.Slot, Vlan: (ushort)0))
            .Concat(physicals.Select(p => (p.Forwarder, p.Name, p.Slot, Vlan: p.VlanId)));
        var (attached, created, updated) = Links.AttachAll(ports, p => p.Name, p => [(p.Slot, loaded.Program(p.Slot.Role))], (p, e) =>
        {
            LogAttachFailed(Log, p.Name, p.Slot.IfIndex, e.Message);
            errors.Add($"forwarder {p.Forwarder}: cannot attach to {ForwarderSlot.Word(p.Slot.Role)} {p.Name}: {e.Message}");
            if (p.Slot.Role == PortRole.Physical) loaded.Vlans.Delete(p.Vlan);
        });
        return ([.. attached.Select(p => p.Slot)], created, updated);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "forwarder programs replaced by {Fingerprint} with new maps (schema {Old} -> {New}): {Links} links switched atomically")]
    private static partial void LogReplaced(ILogger log, string fingerprint, string old, int @new, int links);

    [LoggerMessage(Level = LogLevel.Information, Message = "forwarder maps synced: fwd_ports +{PortsWritten} -{PortsRemoved}, fwd_vlans +{VlansWritten} -{VlansRemoved}")]
    private static partial void LogSynced(ILogger log, int portsWritten, int portsRemoved, int vlansWritten, int vlansRemoved);

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot attach the forwarder to {Interface} (ifindex {IfIndex}): {Error}")]
    private static partial void LogAttachFailed(ILogger log, string @interface, int ifIndex, string error);
}
