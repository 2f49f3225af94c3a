// Carrier subsystem (SPEC §5.2): keeps the SRv6 tag programs loaded (verify once, reuse pins,
// upgrade by switching links atomically) and its programs on both hooks of every carrier
// interface of this node (tcx links or tc filters: HookAttachments); checks that vxlan devices on bridges with enforced NICs carry the group (gbp).
using System.Globalization;
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Netlink;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Carrier;

public sealed partial class CarrierSubsystem : Subsystem
{
    public const string SubsystemName = "carrier";

    public CarrierSubsystem(AgentOptions options, ILogger log, EmbeddedObject? program = null, IInterfaceSource? interfaces = null)
        : base(SubsystemName, options, log, program ?? EmbeddedObject.Load(SubsystemName, CarrierAbi.ObjectFile, CarrierAbi.SchemaVersion))
    {
        Pins = new CarrierPins(options.BpffsFor(SubsystemName));
        // In tc mode a filter of ours on a guest NIC is the policy's; any other device's is ours.
        // A host has many such devices (bridges, firewall ports, uplinks): while none of ours is
        // left on them (the record), an apply in tcx mode does not ask each of them.
        Links = HookAttachments.For(options.AttachChoice(), Pins.LinkDirectory, interfaces ?? new NetlinkInterfaces(),
            l => !Policy.GuestNic.TryParse(l.Name, out _), log, State.NoTcFiltersPath);
    }

    public CarrierPins Pins { get; }
    public HookAttachments Links { get; }

    protected override bool Pinned => Pins.ProgramsPresent;

    public override SubsystemReport Apply(HostState host)
    {
        using var _ = SubsystemLock.Exclusive(State.LockPath);
        var plan = CarrierPlan.For(host);
        var vxlan = VxlanSummary(plan);
        if (plan.Interfaces.Count == 0)
        {
            // Nothing to tag on this node: links and programs left by an earlier config go.
            int removed = Links.DetachAll();
            bool unloaded = Unload();
            var summary = "no SRv6 carrier interface on this node" + (removed > 0 || unloaded ? $"; links -{removed}, programs unloaded" : "") + vxlan;
            return new SubsystemReport(Name, summary, [], plan.Warnings);
        }

        return Attach(plan.Interfaces, full: true, plan.Warnings, vxlan);
    }

    /// <summary>Loads (or reuses) the programs and attaches them to the interfaces; a full pass
    /// also detaches the interfaces it does not list.</summary>
    private SubsystemReport Attach(IReadOnlyList<CarrierInterface> interfaces, bool full, IReadOnlyList<string> warnings, string vxlan = "")
    {
        if (!Links.Choice.IsSupported)
            return new SubsystemReport(Name, "SRv6 carrier not attached",
                [$"cannot attach the SRv6 carrier{(full ? "" : " to " + interfaces[0].Name)}: {Links.Choice.Reason}"], warnings);
        (Loaded Programs, LoadOutcome Outcome, int Switched) load;
        try
        {
            load = EnsureLoaded();
        }
        catch (BpfException e)
        {
            // The old programs (if any) stay attached and pinned: nothing changed.
            return new SubsystemReport(Name, "SRv6 carrier programs not loaded", [$"load the SRv6 carrier programs: {e.Message}"], warnings);
        }
        using (load.Programs)
        {
            var errors = new List<string>();
            var (attached, created, updated) = AttachAll(load.Programs, interfaces, errors);
            var keep = interfaces.Select(i => i.IfIndex).ToHashSet();
            int removed = full ? Links.DetachStale(slot => keep.Contains(slot.IfIndex)) : 0;
            var summary = $"programs {Word(load.Outcome, load.Switched)}; SRv6 tag on {(attached.Count > 0 ? string.Join(", ", attached) : "no interface")}; links +{created} ~{updated} -{removed}{vxlan}";
            return new SubsystemReport(Name, summary, errors, warnings);
        }
    }

    /// <summary>A carrier interface gets its links; a NIC, bridge or vxlan device that puts
    /// enforced traffic on a vxlan device without gbp gets the warning.</summary>
    public override SubsystemReport? Plug(HostState host, string name)
    {
        if (host.Link(name) is not { } link) return null;
        using var _ = SubsystemLock.Exclusive(State.LockPath);
        var plan = CarrierPlan.For(host);
        if (plan.Interfaces.FirstOrDefault(i => i.IfIndex == link.IfIndex) is { } itf)
            return Attach([itf], full: false, []);
        var lacking = plan.Vxlans.Where(v => v.LacksGbp &&
            (v.IfIndex == link.IfIndex || v.BridgeIfIndex == link.IfIndex ||
             (v.BridgeIfIndex == link.MasterIfIndex && host.EnforcedIfIndexes.Contains(link.IfIndex)))).ToList();
        if (lacking.Count == 0) return null;
        return new SubsystemReport(Name, "no change", [],
            [.. lacking.Select(v => CarrierPlan.GbpWarning(v, host.Links.First(l => l.IfIndex == v.IfIndex)))]);
    }

    protected override int Remove()
    {
        int removed = Links.DetachAll();
        Unload();
        State.ForgetNoTcFilters();
        return removed;
    }

    public override CarrierStatus? Status(HostState host)
    {
        if (!host.HasSnapshot) return null;
        var plan = CarrierPlan.For(host);
        var warnings = new List<string>(plan.Warnings);
        var names = host.Links.GroupBy(l => l.IfIndex).ToDictionary(g => g.Key, g => g.First().Name);
        uint? ingressId = null, egressId = null;
        if (Pins.ProgramsPresent)
        {
            using (var ingress = BpfProgram.OpenPinned(Pins.Program(TcxDirection.Ingress))) ingressId = ingress.Info().Id;
            using (var egress = BpfProgram.OpenPinned(Pins.Program(TcxDirection.Egress))) egressId = egress.Info().Id;
            if (StaleWarning("carrier programs") is { } stale) warnings.Add(stale);
        }
        var links = Links.Inspect();
        if (Links.LeftoverWarning(links) is { } leftover) warnings.Add(leftover);
        foreach (var l in links)
        {
            if (l.Defunct) warnings.Add(l.DefunctWarning);
            else if (plan.Interfaces.All(i => i.IfIndex != l.Slot.IfIndex))
                warnings.Add($"{names.GetValueOrDefault(l.Slot.IfIndex) ?? $"ifindex {l.Slot.IfIndex}"} carries the SRv6 tag programs but is no carrier interface of this node: the next apply detaches them");
        }
        bool Attached(CarrierInterface itf, TcxDirection d) => links.Any(l => l.Slot == new TcxSlot(itf.IfIndex, d) && !l.Defunct);
        var interfaces = plan.Interfaces.Select(i => new CarrierInterfaceStatus(i.Name, i.IfIndex, Attached(i, TcxDirection.Ingress), Attached(i, TcxDirection.Egress))).ToList();
        foreach (var i in interfaces.Where(i => !i.Ingress || !i.Egress))
            warnings.Add($"carrier interface {i.Name} is not fully attached (ingress {AttachedWord(i.Ingress)}, egress {AttachedWord(i.Egress)}): run 'microseg apply'");
        return new CarrierStatus(Pins.ProgramsPresent, State.Fingerprint, Program.Fingerprint, ingressId, egressId,
            plan.Interfaces.Count > 0, interfaces, plan.Missing, plan.Vxlans, warnings);
    }

    private static string AttachedWord(bool attached) => attached ? "attached" : "missing";

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
        if (ReadyToLoad(Pins.ProgramDirectory, Pins.LinkDirectory)) return (OpenPinned(), LoadOutcome.Reused, 0);
        var previous = Pins.ProgramsPresent ? State.Fingerprint : null;
        Loaded loaded;
        using (var obj = BpfObject.OpenMemory(Program.Bytes, CarrierAbi.ObjectFile))
        {
            obj.Load();
            loaded = new Loaded(obj.Program(CarrierAbi.IngressProgram), obj.Program(CarrierAbi.EgressProgram));
        }
        try
        {
            int switched = Links.SwitchAll(slot => loaded.Program(slot.Direction));
            foreach (var d in TcxSlot.Directions)
            {
                Bpffs.Unpin(Pins.Program(d));
                loaded.Program(d).Pin(Pins.Program(d));
            }
            RecordLoaded(fresh: previous is null && switched == 0);
            if (previous is null && switched == 0) return (loaded, LoadOutcome.Loaded, 0);
            LogUpgraded(Log, Fingerprints.Short(previous) ?? "unknown", Fingerprints.Short(Program.Fingerprint)!, switched);
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
        foreach (var d in TcxSlot.Directions) any |= Bpffs.Unpin(Pins.Program(d));
        foreach (var dir in new[] { Pins.LinkDirectory, Pins.ProgramDirectory, Pins.Root }) DeleteIfEmpty(dir);
        State.Forget();
        return any;
    }

    // ---- links ------------------------------------------------------------------------------

    private (List<string> Attached, int Created, int Updated) AttachAll(Loaded loaded, IReadOnlyList<CarrierInterface> interfaces, List<string> errors)
    {
        var (attached, created, updated) = Links.AttachAll(interfaces, i => i.Name,
            i => TcxSlot.Directions.Select(d => (new TcxSlot(i.IfIndex, d), loaded.Program(d))),
            (itf, e) =>
            {
                LogAttachFailed(Log, itf.Name, itf.IfIndex, e.Message);
                errors.Add($"cannot attach the SRv6 carrier to {itf.Name} (ifindex {itf.IfIndex.ToString(CultureInfo.InvariantCulture)}): {e.Message}");
            });
        return ([.. attached.Select(i => i.Name)], created, updated);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "carrier programs upgraded {Old} -> {New}: {Links} links switched atomically")]
    private static partial void LogUpgraded(ILogger log, string old, string @new, int links);


    [LoggerMessage(Level = LogLevel.Error, Message = "cannot attach the SRv6 carrier to {Interface} (ifindex {IfIndex}): {Error}")]
    private static partial void LogAttachFailed(ILogger log, string @interface, int ifIndex, string error);



}
