// Policy subsystem: keeps the policy programs loaded (verify once, reuse pins), the maps in
// sync with the plan (diff only: nic_group with each group's switches, verdict words, service
// entries; the flow table is the programs' own), and its programs on both hooks of every
// enforced NIC (tcx links or tc filters: HookAttachments). It runs first: the NICs it enforces
// are what the carrier checks.
using Microseg.Agent.Observe;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Policy;

public sealed partial class PolicySubsystem : Subsystem
{
    public const string SubsystemName = "policy";

    public PolicySubsystem(AgentOptions options, ILogger log, EmbeddedObject? program = null, IInterfaceSource? interfaces = null, PolicyCapacity? capacity = null)
        : base(SubsystemName, options, log, program ?? EmbeddedObject.Load(SubsystemName, PolicyAbi.ObjectFile, PolicyAbi.SchemaVersion))
    {
        Capacity = capacity ?? PolicyCapacity.FromEnvironment();
        Pins = new PolicyPins(options.BpffsFor(SubsystemName));
        // In tc mode a filter of ours on a guest NIC is the policy's (the carrier's sit on bridges).
        Links = HookAttachments.For(options.AttachChoice(), Pins.LinkDirectory, interfaces ?? new NetlinkInterfaces(),
            l => GuestNic.TryParse(l.Name, out _), log, State.NoTcFiltersPath);
    }

    public PolicyPins Pins { get; }
    public HookAttachments Links { get; }

    /// <summary>What the maps hold; a plan over it fails before the kernel is touched.</summary>
    public PolicyCapacity Capacity { get; }

    protected override bool Pinned => Pins.AllPresent;

    public override SubsystemReport Apply(HostState host)
    {
        using (SubsystemLock.Exclusive(State.LockPath))
            return new PolicyReport(ApplyIndexed(host, Apply));
    }

    /// <summary>Only this NIC: an unassigned NIC or a non-guest name is no business of the
    /// policy; an assigned one that is not here cannot be enforced (an error).</summary>
    public override SubsystemReport? Plug(HostState host, string name)
    {
        if (!GuestNic.TryParse(name, out var guest))
            return SubsystemReport.Skip(Name, "not a guest NIC name (tap{vmid}i{n} or veth{vmid}i{n})");
        if (!host.Config.Assignments.ContainsKey(guest.AssignmentId))
            return SubsystemReport.Skip(Name, $"no assignment {guest.AssignmentId}: not enforced");
        if (host.Link(name) is not { } link)
            throw new AgentException($"apply {name}: no such interface on this host; it is assigned ({guest.AssignmentId}) and cannot be enforced");
        using (SubsystemLock.Shared(State.LockPath))
        {
            InvalidateIndexUnless(host.SnapshotStamp);
            if (IsCurrent)
            {
                // Plugs run side by side: the slot table is read, extended and saved by one at a time.
                using var slots = SubsystemLock.Exclusive(SlotsLockPath);
                var plan = PolicyPlan.ForInterface(host.Config, new LocalInterface(link.Name, link.IfIndex), LoadSlots())!;
                return new PolicyReport(Plug(plan));
            }
        }
        // Programs missing or from another build: a full pass (exclusive) covers this NIC too.
        return Apply(host);
    }

    private static List<LocalInterface> Local(HostState host) => [.. host.Links.Select(l => new LocalInterface(l.Name, l.IfIndex))];

    /// <summary>Full pass: programs, maps and links made to match the plan; stale ones removed.
    /// Call with the subsystem lock held exclusively.</summary>
    private PolicyApplyResult Apply(PolicyPlan plan)
    {
        Links.Choice.ThrowIfUnsupported();
        Capacity.Check(plan);
        plan.AssignSlots();
        var (loaded, outcome) = EnsureLoaded(plan);
        using (loaded)
        {
            var (vw, vr, nw, nr, sw, sr) = (0, 0, 0, 0, 0, 0);
            var currentVerdicts = loaded.Verdicts.Entries();
            var currentNics = loaded.NicGroup.Entries();
            var currentServices = loaded.Services.Entries();
            var (desiredVerdicts, desiredNics, desiredServices) = (DesiredVerdicts(plan), DesiredNics(plan), DesiredServices(plan));
            PrepareSlots(loaded, plan);
            var verdicts = MapSync.Diff(desiredVerdicts, currentVerdicts);
            var nics = MapSync.Diff(desiredNics, currentNics);
            var services = MapSync.Diff(desiredServices, currentServices);
            CheckTransition(currentVerdicts.Count, desiredVerdicts.Count, verdicts.Deletes.Count, currentNics.Count, desiredNics.Count, nics.Deletes.Count);
            Capacity.CheckTransition("services", currentServices.Count, desiredServices.Count - (currentServices.Count - services.Deletes.Count), Capacity.MaxServices);
            // Order keeps every packet enforced: the service entries a word points to exist
            // before its Service bit is set, the words a NIC needs before the NIC names its
            // group; removals come after the links that used them are gone (and a word drops
            // its Service bit before the entries go).
            sw = WriteServices(loaded, services.Writes);
            foreach (var (k, v) in verdicts.Writes) { loaded.Verdicts.Update(k, v); vw++; }
            foreach (var (k, v) in nics.Writes) { loaded.NicGroup.Update(k, v); nw++; }

            var (enforced, failed, created, updated) = AttachAll(loaded, plan.Nics);
            var keep = plan.Nics.Select(n => n.IfIndex).ToHashSet();
            var live = enforced.Select(n => n.IfIndex).ToHashSet();
            var removed = Links.DetachStale(slot => keep.Contains(slot.IfIndex), slot => live.Contains(slot.IfIndex));

            foreach (var k in nics.Deletes) { if (loaded.NicGroup.Delete(k)) nr++; loaded.Monitor.Delete(k); }
            foreach (var k in verdicts.Deletes) if (loaded.Verdicts.Delete(k)) vr++;
            foreach (var k in services.Deletes) if (loaded.Services.Delete(k)) sr++;
            if (sr > 0) FlowEpoch.Invalidate(loaded.FlowEpoch); // as in WriteServices
            // A NIC that left takes its flows along: its ifindex may be another NIC's tomorrow.
            int fr = 0;
            if (nics.Deletes.Count > 0)
            {
                var gone = nics.Deletes.ToHashSet();
                fr = FlowTable.Delete(loaded.Flows, loaded.FlowEpoch, k => gone.Contains(k.IfIndex));
            }
            LogSynced(Log, vw, vr, sw, sr, nw, nr, fr);
            return new PolicyApplyResult(outcome, enforced, failed, nw, nr, vw, vr, created, updated, removed)
            {
                ServicesWritten = sw, ServicesRemoved = sr, FlowsRemoved = fr,
                Desired = (MapDigest.Of(desiredNics), MapDigest.Of(desiredVerdicts), MapDigest.Of(desiredServices)),
            };
        }
    }

    /// <summary>The plug path: one NIC's group and verdict entries written (nothing removed),
    /// its links attached. Call with the subsystem lock held shared, and only when
    /// <see cref="IsCurrent"/> (otherwise run a full apply). <paramref name="open"/>: the pins,
    /// when the caller has them open already.</summary>
    private PolicyApplyResult Plug(PolicyPlan plan, Loaded? open = null)
    {
        Links.Choice.ThrowIfUnsupported();
        using var opened = open is null ? OpenPinned() : null;
        var loaded = open ?? opened!;
        var (vw, nw, sw) = (0, 0, 0);
        var verdicts = DesiredVerdicts(plan);
        var nics = DesiredNics(plan);
        var services = DesiredServices(plan);
        var verdictsPresent = Lookup(loaded.Verdicts, verdicts.Keys).ToList();
        var servicesPresent = Lookup(loaded.Services, services.Keys).ToList();
        var verdictWrites = MapSync.Diff(verdicts, verdictsPresent, deleteStale: false);
        var serviceWrites = MapSync.Diff(services, servicesPresent, deleteStale: false);
        var nicWrites = MapSync.Diff(nics, Lookup(loaded.NicGroup, nics.Keys), deleteStale: false);
        plan.AssignSlots();
        CheckPlug(loaded, plan, verdictsPresent.Count, verdicts.Count);
        Capacity.CheckPlugServices(plan.Nics[0].Name, plan);
        Capacity.CheckTransition("services", loaded.Services.Count(), services.Count - servicesPresent.Count, Capacity.MaxServices);
        PrepareSlots(loaded, plan);
        sw = WriteServices(loaded, serviceWrites.Writes);
        foreach (var (k, v) in verdictWrites.Writes) { loaded.Verdicts.Update(k, v); vw++; }
        foreach (var (k, v) in nicWrites.Writes) { loaded.NicGroup.Update(k, v); nw++; }
        var (enforced, failed, created, updated) = AttachAll(loaded, plan.Nics);
        return new PolicyApplyResult(LoadOutcome.Reused, enforced, failed, nw, 0, vw, 0, created, updated, 0) { ServicesWritten = sw };
    }

    /// <summary>Deletes flows from the flow table: their replies no longer pass, unless the
    /// rules allow them. Under the shared lock (it changes no pin, only entries).</summary>
    public FlowFlushResult FlushFlows(HostState host, FlowScope scope)
    {
        using (SubsystemLock.Shared(State.LockPath))
        {
            if (!Pins.AllPresent)
                throw new AgentException("the policy programs are not loaded on this host (run 'microseg apply'): there is no flow table to flush");
            using var loaded = OpenPinned();
            int removed;
            IReadOnlyList<string> nics;
            switch (scope)
            {
                case FlowScope.OfNic(var name):
                    var link = host.Link(name) ?? throw new AgentException($"flush-flows --nic {name}: no such interface on this host");
                    nics = [name];
                    removed = FlowTable.Delete(loaded.Flows, loaded.FlowEpoch, k => k.IfIndex == (uint)link.IfIndex);
                    break;
                case FlowScope.OfGroup(var group):
                    if (!host.HasSnapshot)
                        throw new AgentException($"flush-flows --group {group}: no valid committed policy to find the group in");
                    if (!host.Config.Groups.ContainsKey(group))
                        throw new AgentException($"flush-flows --group {group}: no group '{group}' in the committed policy");
                    var marks = GroupAndBelow(host.Config, group);
                    var ifindexes = loaded.NicGroup.Entries().Where(e => marks.Contains(e.Value.Group)).Select(e => e.Key).ToHashSet();
                    var names = host.Links.ToDictionary(l => (uint)l.IfIndex, l => l.Name);
                    nics = [.. ifindexes.Order().Select(i => names.GetValueOrDefault(i) ?? $"ifindex {i}")];
                    removed = ifindexes.Count == 0 ? 0 : FlowTable.Delete(loaded.Flows, loaded.FlowEpoch, k => ifindexes.Contains(k.IfIndex));
                    break;
                default:
                    nics = [];
                    removed = FlowTable.Delete(loaded.Flows, loaded.FlowEpoch, _ => true);
                    break;
            }
            LogFlushed(Log, removed);
            return new FlowFlushResult(removed, nics);
        }
    }

    /// <summary>The marks of a group and of every group below it.</summary>
    private static HashSet<ushort> GroupAndBelow(Microseg.Policy.PolicyConfig config, string group)
    {
        bool Below(Microseg.Policy.Group g)
        {
            for (var at = g; at is not null; at = at.Parent is { } p ? config.Groups.GetValueOrDefault(p) : null)
                if (at.Name == group) return true;
            return false;
        }
        return [.. config.Groups.Values.Where(g => g.Mark.HasValue && Below(g)).Select(g => (ushort)g.Mark!.Value)];
    }

    protected override int Remove()
    {
        int removed = Links.DetachAll();
        ForgetRunFiles();
        foreach (var pin in new[] { Pins.IngressProgram, Pins.EgressProgram }.Concat(Pins.Maps.SelectMany(m => new[] { m.Live, m.Next })))
            Bpffs.Unpin(pin);
        foreach (var dir in new[] { Pins.LinkDirectory, Pins.ProgramDirectory, Pins.NextDirectory, Pins.Root })
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: false);
        // The counters went with their map: their slot table goes too.
        File.Delete(SlotsPath);
        File.Delete(SlotsLockPath);
        return removed;
    }

    // One map entry per 64-source word, straight from the plan's compiled words.
    private static Dictionary<VerdictKey, VerdictValue> DesiredVerdicts(PolicyPlan plan)
    {
        var desired = new Dictionary<VerdictKey, VerdictValue>(plan.Words.Count);
        foreach (var w in plan.Words) desired.Add(new VerdictKey(w.Dst, w.SrcHi), new VerdictValue(w.Allow, w.Service, w.Slots));
        return desired;
    }

    // One map entry per (destination, source, protocol) some rule with a service names; its
    // port ranges as compiled (disjoint, sorted, at most ServiceMaxPorts: the capacity check
    // refuses more before this runs).
    private static Dictionary<ServiceKey, ServiceValue> DesiredServices(PolicyPlan plan)
    {
        var desired = new Dictionary<ServiceKey, ServiceValue>(plan.Services.Count);
        foreach (var e in plan.Services)
        {
            var ranges = e.Ports.Select(p => (new ServicePort(p.Lo, p.Hi), Action(p.Action))).ToArray();
            var (slots, otherwise) = plan.ServiceSlots(e);
            desired.Add(new ServiceKey(e.Dst, e.Src, e.Proto), new ServiceValue(Action(e.Otherwise), ranges, slots, otherwise));
        }
        return desired;
    }

    private static byte Action(Microseg.Policy.RuleAction action) =>
        action == Microseg.Policy.RuleAction.Allow ? PolicyAbi.ServiceAllow : PolicyAbi.ServiceDeny;

    /// <summary>Writes come before removals, so each map holds its kept, stale and new entries
    /// at once: checked before the first write. Kept = present minus stale.</summary>
    private void CheckTransition(int verdictsNow, int verdictsDesired, int verdictsStale, int nicsNow, int nicsDesired, int nicsStale)
    {
        Capacity.CheckTransition("verdict", verdictsNow, verdictsDesired - (verdictsNow - verdictsStale), Capacity.MaxWords);
        Capacity.CheckTransition("nic_group", nicsNow, nicsDesired - (nicsNow - nicsStale), Capacity.MaxNics);
    }

    /// <summary>The plug path adds to what the maps hold: the NIC's group may be one more local
    /// destination, its words and its NIC more entries. Checked before the first write.</summary>
    private void CheckPlug(Loaded loaded, PolicyPlan plan, int verdictsPresent, int verdictsDesired)
    {
        var groups = new Dictionary<uint, ushort>();
        foreach (var (k, v) in loaded.NicGroup.Entries()) groups[k] = v.Group;
        int nicsBefore = groups.Count;
        foreach (var n in plan.Nics) groups[(uint)n.IfIndex] = n.Mark;
        Capacity.CheckPlug(plan.Nics[0].Name, groups.Values.Distinct().Count());
        Capacity.CheckTransition("nic_group", nicsBefore, groups.Count - nicsBefore, Capacity.MaxNics);
        Capacity.CheckTransition("verdict", loaded.Verdicts.Count(), verdictsDesired - verdictsPresent, Capacity.MaxWords);
    }

    private static Dictionary<uint, NicInfo> DesiredNics(PolicyPlan plan) =>
        plan.Nics.ToDictionary(n => (uint)n.IfIndex, n => plan.NicSlots(n) is var (deny, reply, infra)
            ? new NicInfo(n.Mark, (ushort)n.Flags, deny, reply, infra) : default);

    // ---- counters and events ------------------------------------------------------------------

    /// <summary>Where the counter slot table is kept (read by stats and the monitor too).</summary>
    public string SlotsPath => CounterSlotTable.PathIn(State.Directory);

    private string SlotsLockPath => Path.Combine(State.Directory, "counter-slots.lock");

    /// <summary>The slot table of the last apply; a damaged one is started afresh (its counters
    /// restart from zero, the apply goes on).</summary>
    private CounterSlotTable LoadSlots()
    {
        try { return CounterSlotTable.Load(SlotsPath); }
        catch (AgentException e)
        {
            LogSlotsDamaged(Log, e.Message);
            return CounterSlotTable.Empty;
        }
    }

    /// <summary>Once the plan's slots are all assigned (its desired map values computed): the
    /// new slots zeroed, the table saved, the event settings written; all before the maps
    /// point at a new slot.</summary>
    /// <summary>Writes services entries; then, if any, a fresh flow_epoch: the programs remember
    /// each CPU's last services decision while the epoch stays.</summary>
    private static int WriteServices(Loaded loaded, IEnumerable<KeyValuePair<ServiceKey, ServiceValue>> writes)
    {
        int written = 0;
        foreach (var (k, v) in writes) { loaded.Services.Update(k, v); written++; }
        if (written > 0) FlowEpoch.Invalidate(loaded.FlowEpoch);
        return written;
    }

    private void PrepareSlots(Loaded loaded, PolicyPlan plan)
    {
        if (plan.Slots is not { } slots) return;
        var zero = new Counter[loaded.Counters.Cpus];
        foreach (var slot in slots.TakeFresh()) loaded.Counters.UpdatePerCpu(slot, zero);
        slots.Table.Save(SlotsPath);
        SyncMonitorSettings(loaded);
    }

    /// <summary>The monitor's event rate and burst, from the environment of this run.</summary>
    private static void SyncMonitorSettings(Loaded loaded)
    {
        var settings = MonitorSettings.FromEnvironment();
        var current = loaded.MonitorConfig.Lookup(0);
        if (current.Rate != settings.Rate || current.Burst != settings.Burst)
            loaded.MonitorConfig.Update(0, new MonitorConfig(settings.Rate, settings.Burst, current.Flags));
    }

    private static IEnumerable<KeyValuePair<TKey, TValue>> Lookup<TKey, TValue>(BpfHashMap<TKey, TValue> map, IEnumerable<TKey> keys)
        where TKey : unmanaged where TValue : unmanaged
    {
        foreach (var k in keys)
            if (map.TryLookup(k, out var v)) yield return KeyValuePair.Create(k, v);
    }

    /// <summary>What is loaded, which NICs carry which group, and what needs an apply. Without a
    /// snapshot, groups show by mark only and nothing is compared with a plan.</summary>
    public override PolicyStatus Status(HostState host)
    {
        var warnings = new List<string>();
        var plan = host.HasSnapshot ? PolicyPlan.ForHost(host.Config, Local(host)) : null;
        if (!Pins.AllPresent)
        {
            // An older map schema's programs and maps (before services and flows) still enforce.
            if (File.Exists(Pins.IngressProgram) && File.Exists(Pins.NicGroup) && File.Exists(Pins.Verdicts))
                warnings.Add($"programs and maps of map schema {State.Schema?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"} enforce this host; " +
                    $"this build needs schema {Program.Schema}: run 'microseg apply' to migrate (no gap)");
            else
                foreach (var nic in plan?.Nics ?? []) warnings.Add($"{nic.Name} is assigned ({nic.AssignmentId}, group {nic.Group}) but nothing is loaded: run 'microseg apply'");
            return new PolicyStatus(false, State.Fingerprint, State.Schema, Program.Fingerprint, Program.Schema, null, null, 0, 0, [], warnings)
                { Attach = Links.Mode, AttachReason = Links.Reason };
        }
        using var loaded = OpenPinned();
        var links = Links.Inspect();
        warnings.AddRange(links.Where(l => l.Defunct).Select(l => l.DefunctWarning));
        if (Links.LeftoverWarning(links) is { } leftover) warnings.Add(leftover);
        var names = host.Links.ToDictionary(i => i.IfIndex, i => i.Name);
        var groupsByMark = host.Config.Groups.Values.Where(g => g.Mark.HasValue).ToDictionary(g => (ushort)g.Mark!.Value, g => g.Name);
        bool Attached(uint ifIndex, TcxDirection d) => links.Any(l => l.Slot == new TcxSlot((int)ifIndex, d) && !l.Defunct);
        var nics = loaded.NicGroup.Entries()
            .OrderBy(e => e.Key)
            .Select(e => new NicStatus((int)e.Key, names.GetValueOrDefault((int)e.Key), e.Value.Group, groupsByMark.GetValueOrDefault(e.Value.Group),
                Attached(e.Key, TcxDirection.Ingress), Attached(e.Key, TcxDirection.Egress)))
            .ToList();
        foreach (var n in nics.Where(n => !n.Ingress || !n.Egress))
            warnings.Add($"{n.Interface ?? $"ifindex {n.IfIndex}"} has a group but is not fully attached (ingress {n.Ingress}, egress {n.Egress}): run 'microseg apply'");
        foreach (var nic in plan?.Nics.Where(p => !nics.Any(n => n.IfIndex == p.IfIndex && n.Mark == p.Mark && n.Ingress && n.Egress)) ?? [])
            warnings.Add($"{nic.Name} is assigned ({nic.AssignmentId}, group {nic.Group}) but not enforced as such: run 'microseg apply'");
        if (StaleWarning() is { } stale) warnings.Add(stale);
        var words = loaded.Verdicts.Count();
        return new PolicyStatus(true, State.Fingerprint, State.Schema, Program.Fingerprint, Program.Schema,
            loaded.Ingress.Info().Id, loaded.Egress.Info().Id, loaded.NicGroup.Count(), words, nics, warnings)
        {
            VerdictMap = new VerdictMapFill(words, Capacity.MaxWords, nics.Select(n => n.Mark).Distinct().Count(), Capacity.MaxDestinations,
                MapMemory.Memlock(loaded.Verdicts.Map)),
            ServiceEntries = loaded.Services.Count(),
            FlowTable = new FlowTableFill(loaded.Flows.Count(), loaded.Flows.MaxEntries, MapMemory.Memlock(loaded.Flows.Map)),
            Attach = Links.Mode,
            AttachReason = Links.Reason,
        };
    }

    // ---- programs and maps ------------------------------------------------------------------

    /// <summary>Programs and maps in use, open by fd.</summary>
    internal sealed class Loaded(BpfProgram ingress, BpfProgram egress, BpfHashMap<uint, NicInfo> nicGroup, BpfHashMap<VerdictKey, VerdictValue> verdicts,
        BpfHashMap<ServiceKey, ServiceValue> services, BpfHashMap<FlowKey, FlowValue> flows, BpfArrayMap<ulong> flowEpoch,
        BpfArrayMap<Counter> counters, BpfHashMap<uint, MonitorState> monitor, BpfArrayMap<MonitorConfig> monitorConfig) : IDisposable
    {
        public BpfArrayMap<Counter> Counters { get; } = counters;
        public BpfHashMap<uint, MonitorState> Monitor { get; } = monitor;
        public BpfArrayMap<MonitorConfig> MonitorConfig { get; } = monitorConfig;
        public BpfProgram Ingress { get; } = ingress;
        public BpfProgram Egress { get; } = egress;
        public BpfHashMap<uint, NicInfo> NicGroup { get; } = nicGroup;
        public BpfHashMap<VerdictKey, VerdictValue> Verdicts { get; } = verdicts;
        public BpfHashMap<ServiceKey, ServiceValue> Services { get; } = services;
        public BpfHashMap<FlowKey, FlowValue> Flows { get; } = flows;
        public BpfArrayMap<ulong> FlowEpoch { get; } = flowEpoch;
        public BpfProgram Program(TcxDirection d) => d == TcxDirection.Ingress ? Ingress : Egress;

        public void Dispose()
        {
            Ingress.Dispose(); Egress.Dispose(); NicGroup.Dispose(); Verdicts.Dispose(); Services.Dispose(); Flows.Dispose(); FlowEpoch.Dispose();
            Counters.Dispose(); Monitor.Dispose(); MonitorConfig.Dispose();
        }
    }

    internal Loaded OpenPinned() => new(
        BpfProgram.OpenPinned(Pins.IngressProgram), BpfProgram.OpenPinned(Pins.EgressProgram),
        BpfHashMap<uint, NicInfo>.OpenPinned(Pins.NicGroup), BpfHashMap<VerdictKey, VerdictValue>.OpenPinned(Pins.Verdicts),
        BpfHashMap<ServiceKey, ServiceValue>.OpenPinned(Pins.Services), BpfHashMap<FlowKey, FlowValue>.OpenPinned(Pins.Flows),
        BpfArrayMap<ulong>.OpenPinned(Pins.FlowEpoch),
        BpfArrayMap<Counter>.OpenPinned(Pins.Counters), BpfHashMap<uint, MonitorState>.OpenPinned(Pins.Monitor),
        BpfArrayMap<MonitorConfig>.OpenPinned(Pins.MonitorConfig));

    private (Loaded, LoadOutcome) EnsureLoaded(PolicyPlan plan)
    {
        if (ReadyToLoad(Pins.ProgramDirectory, Pins.LinkDirectory)) return (OpenPinned(), LoadOutcome.Reused);
        var mapsPresent = File.Exists(Pins.NicGroup) && File.Exists(Pins.Verdicts);
        if (mapsPresent && State.Schema == Program.Schema)
            return (Upgrade(), LoadOutcome.Upgraded);
        if (mapsPresent)
            return (Migrate(plan), LoadOutcome.Migrated);
        return (LoadFresh(), LoadOutcome.Loaded);
    }

    /// <summary>Nothing pinned yet: load, create and pin the maps and programs.</summary>
    private Loaded LoadFresh()
    {
        var loaded = LoadObject(next: false);
        PinPrograms(loaded);
        RecordLoaded(fresh: true);
        return loaded;
    }

    /// <summary>Same schema, new program: load against the live maps (the verifier runs before
    /// anything changes), then switch every link atomically with BPF_LINK_UPDATE.</summary>
    private Loaded Upgrade()
    {
        var loaded = LoadObject(next: false);
        var switched = Links.SwitchAll(slot => loaded.Program(slot.Direction));
        PinPrograms(loaded);
        var old = State.Fingerprint;
        RecordLoaded(fresh: false);
        LogUpgraded(Log, Fingerprints.Short(old) ?? "unknown", Fingerprints.Short(Program.Fingerprint)!, switched);
        return loaded;
    }

    /// <summary>New schema: new maps beside the old ones (the load verifies against them before
    /// anything changes), filled from the plan, the open flows copied over, then every link
    /// switched atomically to the new programs, the flows opened meanwhile copied too, then the
    /// old maps removed. No packet is ever unenforced, and open connections keep their replies.</summary>
    private Loaded Migrate(PolicyPlan plan)
    {
        foreach (var m in Pins.Maps) Bpffs.Unpin(m.Next);
        Bpffs.CreateDirectory(Pins.NextDirectory);
        Loaded loaded;
        try
        {
            loaded = LoadObject(next: true);
        }
        catch
        {
            foreach (var m in Pins.Maps) Bpffs.Unpin(m.Next);
            throw;
        }
        var (migratedServices, migratedVerdicts, migratedNics) = (DesiredServices(plan), DesiredVerdicts(plan), DesiredNics(plan));
        // The counters of a schema with the same counter layout come along, slot by slot (the
        // table is the same); an older schema had none, and every slot starts at zero.
        CountersCarried(loaded);
        PrepareSlots(loaded, plan);
        foreach (var (k, v) in migratedServices) loaded.Services.Update(k, v);
        foreach (var (k, v) in migratedVerdicts) loaded.Verdicts.Update(k, v);
        // NICs that are linked now keep their group until the full sync that follows; enforced
        // NICs get theirs (and their switches) from the plan.
        using (var oldNics = BpfHashMap<uint, NicInfo>.OpenPinned(Pins.NicGroup))
            foreach (var (k, v) in oldNics.Entries()) loaded.NicGroup.Update(k, v);
        foreach (var (k, v) in migratedNics) loaded.NicGroup.Update(k, v);
        // Flows carried before the switch keep replies passing through it; those the old
        // programs record between this copy and the switch are copied after it.
        var carried = FlowTable.Carry(Pins.Flows, loaded.Flows, loaded.FlowEpoch, onlyMissing: false);
        var switched = Links.SwitchAll(slot => loaded.Program(slot.Direction));
        if (carried is { } before && FlowTable.Carry(Pins.Flows, loaded.Flows, loaded.FlowEpoch, onlyMissing: true) is { } after) carried = before + after;
        if (carried is null) LogFlowsNotCarried(Log);
        foreach (var m in Pins.Maps)
        {
            Bpffs.Unpin(m.Live);
            File.Move(m.Next, m.Live);
        }
        Directory.Delete(Pins.NextDirectory);
        PinPrograms(loaded);
        var oldSchema = State.Schema;
        RecordLoaded(fresh: false);
        LogMigrated(Log, oldSchema?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", Program.Schema, switched, carried ?? 0);
        return loaded;
    }

    /// <summary>Loads this build's object with its maps pinned live (or under next/ during a
    /// migration): pinned maps are reused, missing ones created and pinned.</summary>
    private Loaded LoadObject(bool next)
    {
        using var obj = BpfObject.OpenMemory(Program.Bytes, PolicyAbi.ObjectFile);
        foreach (var m in Pins.Maps) obj.SetMapPinPath(m.Map, next ? m.Next : m.Live);
        obj.SetMapMaxEntries(PolicyAbi.FlowsMap, FlowTableSize(next ? Pins.NextFlows : Pins.Flows));
        obj.Load();
        return new Loaded(
            obj.Program(PolicyAbi.IngressProgram), obj.Program(PolicyAbi.EgressProgram),
            new BpfHashMap<uint, NicInfo>(obj.Map(PolicyAbi.NicGroupMap)),
            new BpfHashMap<VerdictKey, VerdictValue>(obj.Map(PolicyAbi.VerdictsMap)),
            new BpfHashMap<ServiceKey, ServiceValue>(obj.Map(PolicyAbi.ServicesMap)),
            new BpfHashMap<FlowKey, FlowValue>(obj.Map(PolicyAbi.FlowsMap)),
            new BpfArrayMap<ulong>(obj.Map(PolicyAbi.FlowEpochMap)),
            new BpfArrayMap<Counter>(obj.Map(PolicyAbi.CountersMap)),
            new BpfHashMap<uint, MonitorState>(obj.Map(PolicyAbi.MonitorMap)),
            new BpfArrayMap<MonitorConfig>(obj.Map(PolicyAbi.MonitorConfigMap)));
    }

    /// <summary>Copies the old counters (same layout only) into the new map of a migration.</summary>
    private void CountersCarried(Loaded loaded)
    {
        if (!File.Exists(Pins.Counters)) return;
        BpfArrayMap<Counter> old;
        try { old = BpfArrayMap<Counter>.OpenPinned(Pins.Counters); }
        catch (BpfException) { return; }
        using (old)
        {
            if (old.Cpus != loaded.Counters.Cpus) return;
            var values = new Counter[old.Cpus];
            foreach (var slot in CounterSlotTable.Load(SlotsPath).Slots.Keys)
            {
                if (slot >= old.MaxEntries || slot >= loaded.Counters.MaxEntries) continue;
                old.LookupPerCpu(slot, values);
                loaded.Counters.UpdatePerCpu(slot, values);
            }
        }
    }

    /// <summary>A pinned flow table keeps its size (libbpf reuses a pin only when the sizes
    /// match); a new one gets the capacity's.</summary>
    private uint FlowTableSize(string pin)
    {
        if (!File.Exists(pin)) return (uint)Capacity.MaxFlows;
        using var map = BpfMap.OpenPinned(pin);
        return map.Info().MaxEntries;
    }

    private void PinPrograms(Loaded loaded)
    {
        foreach (var d in new[] { TcxDirection.Ingress, TcxDirection.Egress })
        {
            Bpffs.Unpin(Pins.Program(d));
            loaded.Program(d).Pin(Pins.Program(d));
        }
    }

    // ---- links ------------------------------------------------------------------------------

    private (List<EnforcedNic>, List<(EnforcedNic, string)>, int Created, int Updated) AttachAll(Loaded loaded, IReadOnlyList<EnforcedNic> nics)
    {
        var failed = new List<(EnforcedNic, string)>();
        // Egress first: a NIC drops what it may not receive before it stamps what it sends.
        var (enforced, created, updated) = Links.AttachAll(nics, n => n.Name,
            n => [.. new[] { TcxDirection.Egress, TcxDirection.Ingress }.Select(d => (new TcxSlot(n.IfIndex, d), loaded.Program(d)))],
            (nic, e) =>
            {
                LogAttachFailed(Log, nic.Name, nic.IfIndex, e.Message);
                failed.Add((nic, e.Message));
            });
        return (enforced, failed, created, updated);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "policy programs upgraded {Old} -> {New}: {Links} links switched atomically")]
    private static partial void LogUpgraded(ILogger log, string old, string @new, int links);

    [LoggerMessage(Level = LogLevel.Information, Message = "policy maps migrated from schema {Old} to {New}: {Links} links switched atomically, {Flows} open flows carried over")]
    private static partial void LogMigrated(ILogger log, string old, int @new, int links, int flows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the old flow table has another layout: open flows were not carried over, so replies to flows opened before this upgrade are dropped (rules still decide new flows)")]
    private static partial void LogFlowsNotCarried(ILogger log);

    [LoggerMessage(Level = LogLevel.Information, Message = "maps synced: verdicts +{VerdictsWritten} -{VerdictsRemoved}, services +{ServicesWritten} -{ServicesRemoved}, nic_group +{NicsWritten} -{NicsRemoved}, flows of departed NICs -{FlowsRemoved}")]
    private static partial void LogSynced(ILogger log, int verdictsWritten, int verdictsRemoved, int servicesWritten, int servicesRemoved, int nicsWritten, int nicsRemoved, int flowsRemoved);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the counter slot table is damaged ({Error}): counters start afresh")]
    private static partial void LogSlotsDamaged(ILogger log, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "flush-flows: {Removed} flows removed")]
    private static partial void LogFlushed(ILogger log, int removed);


    [LoggerMessage(Level = LogLevel.Error, Message = "cannot enforce {Interface} (ifindex {IfIndex}): {Error}")]
    private static partial void LogAttachFailed(ILogger log, string @interface, int ifIndex, string error);



}
