// Policy subsystem: keeps the policy programs loaded (verify once, reuse pins), the maps in
// sync with the plan (diff only), and a tcx link pair on every enforced NIC.
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Policy;

/// <summary>What one apply did. Failed NICs are enforced nowhere: the caller exits non-zero.</summary>
public sealed record PolicyApplyResult(
    LoadOutcome Load,
    IReadOnlyList<EnforcedNic> Enforced,
    IReadOnlyList<(EnforcedNic Nic, string Error)> Failed,
    int NicEntriesWritten, int NicEntriesRemoved,
    int VerdictsWritten, int VerdictsRemoved,
    int LinksCreated, int LinksUpdated, int LinksRemoved);


public sealed partial class PolicySubsystem
{
    public const string Name = "policy";

    private readonly AgentOptions options;
    private readonly ILogger log;
    private readonly EmbeddedObject program;

    public PolicySubsystem(AgentOptions options, ILogger log, EmbeddedObject? program = null)
    {
        this.options = options;
        this.log = log;
        this.program = program ?? EmbeddedObject.Load(Name, PolicyAbi.ObjectFile, PolicyAbi.SchemaVersion);
        Pins = new PolicyPins(options.BpffsFor(Name));
        State = new RunState(options.RunFor(Name));
        Links = new TcxLinkPins(Pins.LinkDirectory, log);
    }

    /// <summary>The object this build loads (embedded, or the test override).</summary>
    public EmbeddedObject Program => program;

    public PolicyPins Pins { get; }
    public RunState State { get; }
    public TcxLinkPins Links { get; }

    /// <summary>True when the pinned programs are this build's and the maps have its schema.</summary>
    public bool IsCurrent => Pins.AllPresent && State.Fingerprint == program.Fingerprint && State.Schema == program.Schema;

    /// <summary>Full pass: programs, maps and links made to match the plan; stale ones removed.
    /// Call with the subsystem lock held exclusively.</summary>
    public PolicyApplyResult Apply(PolicyPlan plan)
    {
        BpfFeatures.Tcx.ThrowIfUnsupported();
        var (loaded, outcome) = EnsureLoaded(plan);
        using (loaded)
        {
            var (vw, vr, nw, nr) = (0, 0, 0, 0);
            var verdicts = MapSync.Diff(DesiredVerdicts(plan), loaded.Verdicts.Entries());
            var nics = MapSync.Diff(DesiredNics(plan), loaded.NicGroup.Entries());
            // Order keeps every packet enforced: entries a NIC needs exist before the NIC names
            // its group; removals come after the links that used them are gone.
            foreach (var (k, v) in verdicts.Writes) { loaded.Verdicts.Update(k, v); vw++; }
            foreach (var (k, v) in nics.Writes) { loaded.NicGroup.Update(k, v); nw++; }

            var (enforced, failed, created, updated) = AttachAll(loaded, plan.Nics);
            var removed = Links.DetachStale(plan.Nics.Select(n => n.IfIndex).ToHashSet());

            foreach (var k in nics.Deletes) if (loaded.NicGroup.Delete(k)) nr++;
            foreach (var k in verdicts.Deletes) if (loaded.Verdicts.Delete(k)) vr++;
            LogSynced(log, vw, vr, nw, nr);
            return new PolicyApplyResult(outcome, enforced, failed, nw, nr, vw, vr, created, updated, removed);
        }
    }

    /// <summary>The plug path: one NIC's group and verdict entries written (nothing removed),
    /// its links attached. Call with the subsystem lock held shared, and only when
    /// <see cref="IsCurrent"/> (otherwise run a full apply).</summary>
    public PolicyApplyResult Plug(PolicyPlan plan)
    {
        BpfFeatures.Tcx.ThrowIfUnsupported();
        using var loaded = OpenPinned();
        var (vw, nw) = (0, 0);
        var verdicts = DesiredVerdicts(plan);
        var nics = DesiredNics(plan);
        foreach (var (k, v) in MapSync.Diff(verdicts, Lookup(loaded.Verdicts, verdicts.Keys), deleteStale: false).Writes)
        { loaded.Verdicts.Update(k, v); vw++; }
        foreach (var (k, v) in MapSync.Diff(nics, Lookup(loaded.NicGroup, nics.Keys), deleteStale: false).Writes)
        { loaded.NicGroup.Update(k, v); nw++; }
        var (enforced, failed, created, updated) = AttachAll(loaded, plan.Nics);
        return new PolicyApplyResult(LoadOutcome.Reused, enforced, failed, nw, 0, vw, 0, created, updated, 0);
    }

    /// <summary>Detaches every link and removes every pin and the run state.</summary>
    public int Clear()
    {
        int removed = Links.DetachAll();
        foreach (var pin in new[] { Pins.IngressProgram, Pins.EgressProgram, Pins.NicGroup, Pins.Verdicts, Pins.NextNicGroup, Pins.NextVerdicts })
            Bpffs.Unpin(pin);
        foreach (var dir in new[] { Pins.LinkDirectory, Pins.ProgramDirectory, Pins.NextDirectory, Pins.Root })
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: false);
        State.Forget();
        return removed;
    }

    // One map entry per 64-source word (schema 2). Packing the plan's pairs here is the stopgap
    // until the plan compiles with PolicyEngine.CompileMasks itself.
    private static Dictionary<VerdictKey, VerdictValue> DesiredVerdicts(PolicyPlan plan) =>
        Microseg.Policy.VerdictWord.Pack(plan.Verdicts).ToDictionary(
            w => new VerdictKey(w.Dst, w.SrcHi),
            w => new VerdictValue(w.Allow));

    private static Dictionary<uint, NicInfo> DesiredNics(PolicyPlan plan) =>
        plan.Nics.ToDictionary(n => (uint)n.IfIndex, n => new NicInfo(n.Mark));

    private static IEnumerable<KeyValuePair<TKey, TValue>> Lookup<TKey, TValue>(BpfHashMap<TKey, TValue> map, IEnumerable<TKey> keys)
        where TKey : unmanaged where TValue : unmanaged
    {
        foreach (var k in keys)
            if (map.TryLookup(k, out var v)) yield return KeyValuePair.Create(k, v);
    }

    // ---- programs and maps ------------------------------------------------------------------

    /// <summary>Programs and maps in use, open by fd.</summary>
    internal sealed class Loaded(BpfProgram ingress, BpfProgram egress, BpfHashMap<uint, NicInfo> nicGroup, BpfHashMap<VerdictKey, VerdictValue> verdicts) : IDisposable
    {
        public BpfProgram Ingress { get; } = ingress;
        public BpfProgram Egress { get; } = egress;
        public BpfHashMap<uint, NicInfo> NicGroup { get; } = nicGroup;
        public BpfHashMap<VerdictKey, VerdictValue> Verdicts { get; } = verdicts;
        public BpfProgram Program(TcxDirection d) => d == TcxDirection.Ingress ? Ingress : Egress;

        public void Dispose()
        {
            Ingress.Dispose(); Egress.Dispose(); NicGroup.Dispose(); Verdicts.Dispose();
        }
    }

    internal Loaded OpenPinned() => new(
        BpfProgram.OpenPinned(Pins.IngressProgram), BpfProgram.OpenPinned(Pins.EgressProgram),
        BpfHashMap<uint, NicInfo>.OpenPinned(Pins.NicGroup), BpfHashMap<VerdictKey, VerdictValue>.OpenPinned(Pins.Verdicts));

    private (Loaded, LoadOutcome) EnsureLoaded(PolicyPlan plan)
    {
        Bpffs.EnsureMounted(options.BpffsMountPoint());
        Bpffs.CreateDirectory(Pins.ProgramDirectory);
        Bpffs.CreateDirectory(Pins.LinkDirectory);

        if (IsCurrent)
        {
            LogReused(log, program.Fingerprint[..12]);
            return (OpenPinned(), LoadOutcome.Reused);
        }
        var mapsPresent = File.Exists(Pins.NicGroup) && File.Exists(Pins.Verdicts);
        if (mapsPresent && State.Schema == program.Schema)
            return (Upgrade(), LoadOutcome.Upgraded);
        if (mapsPresent)
            return (Migrate(plan), LoadOutcome.Migrated);
        return (LoadFresh(), LoadOutcome.Loaded);
    }

    /// <summary>Nothing pinned yet: load, create and pin the maps and programs.</summary>
    private Loaded LoadFresh()
    {
        var loaded = LoadObject(Pins.NicGroup, Pins.Verdicts);
        PinPrograms(loaded);
        State.Record(program.Fingerprint, program.Schema);
        LogLoaded(log, program.Source, program.Fingerprint[..12], program.Schema);
        return loaded;
    }

    /// <summary>Same schema, new program: load against the live maps (the verifier runs before
    /// anything changes), then switch every link atomically with BPF_LINK_UPDATE.</summary>
    private Loaded Upgrade()
    {
        var loaded = LoadObject(Pins.NicGroup, Pins.Verdicts);
        var switched = Links.SwitchAll(loaded.Program);
        PinPrograms(loaded);
        State.Record(program.Fingerprint, program.Schema);
        LogUpgraded(log, State.Fingerprint ?? "?", program.Fingerprint[..12], switched);
        return loaded;
    }

    /// <summary>New schema: new maps beside the old ones (the load verifies against them before
    /// anything changes), filled from the plan, then every link switched atomically to the new
    /// programs, then the old maps removed. No packet is ever unenforced.</summary>
    private Loaded Migrate(PolicyPlan plan)
    {
        Bpffs.Unpin(Pins.NextNicGroup);
        Bpffs.Unpin(Pins.NextVerdicts);
        Bpffs.CreateDirectory(Pins.NextDirectory);
        Loaded loaded;
        try
        {
            loaded = LoadObject(Pins.NextNicGroup, Pins.NextVerdicts);
        }
        catch
        {
            Bpffs.Unpin(Pins.NextNicGroup);
            Bpffs.Unpin(Pins.NextVerdicts);
            throw;
        }
        foreach (var (k, v) in DesiredVerdicts(plan)) loaded.Verdicts.Update(k, v);
        // NICs that are linked now keep their group until the full sync that follows; enforced
        // NICs get theirs from the plan.
        using (var oldNics = BpfHashMap<uint, NicInfo>.OpenPinned(Pins.NicGroup))
            foreach (var (k, v) in oldNics.Entries()) loaded.NicGroup.Update(k, v);
        foreach (var (k, v) in DesiredNics(plan)) loaded.NicGroup.Update(k, v);
        var switched = Links.SwitchAll(loaded.Program);
        Bpffs.Unpin(Pins.NicGroup);
        Bpffs.Unpin(Pins.Verdicts);
        File.Move(Pins.NextNicGroup, Pins.NicGroup);
        File.Move(Pins.NextVerdicts, Pins.Verdicts);
        Directory.Delete(Pins.NextDirectory);
        PinPrograms(loaded);
        var oldSchema = State.Schema;
        State.Record(program.Fingerprint, program.Schema);
        LogMigrated(log, oldSchema?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", program.Schema, switched);
        return loaded;
    }

    private Loaded LoadObject(string nicGroupPin, string verdictsPin)
    {
        using var obj = BpfObject.OpenMemory(program.Bytes, PolicyAbi.ObjectFile);
        obj.SetMapPinPath(PolicyAbi.NicGroupMap, nicGroupPin);
        obj.SetMapPinPath(PolicyAbi.VerdictsMap, verdictsPin);
        obj.Load();
        return new Loaded(
            obj.Program(PolicyAbi.IngressProgram), obj.Program(PolicyAbi.EgressProgram),
            new BpfHashMap<uint, NicInfo>(obj.Map(PolicyAbi.NicGroupMap)),
            new BpfHashMap<VerdictKey, VerdictValue>(obj.Map(PolicyAbi.VerdictsMap)));
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
        var enforced = new List<EnforcedNic>();
        var failed = new List<(EnforcedNic, string)>();
        int created = 0, updated = 0;
        foreach (var nic in nics)
        {
            try
            {
                foreach (var d in new[] { TcxDirection.Egress, TcxDirection.Ingress })
                {
                    switch (Links.Ensure(nic.Name, nic.IfIndex, d, loaded.Program(d)))
                    {
                        case LinkChange.Created: created++; break;
                        case LinkChange.Updated: updated++; break;
                    }
                }
                enforced.Add(nic);
            }
            catch (BpfException e)
            {
                LogAttachFailed(log, nic.Name, nic.IfIndex, e.Message);
                failed.Add((nic, e.Message));
            }
        }
        return (enforced, failed, created, updated);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "policy programs reused from pins (fingerprint {Fingerprint})")]
    private static partial void LogReused(ILogger log, string fingerprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "policy programs loaded from {Source} (fingerprint {Fingerprint}, schema {Schema})")]
    private static partial void LogLoaded(ILogger log, string source, string fingerprint, int schema);

    [LoggerMessage(Level = LogLevel.Information, Message = "policy programs upgraded {Old} -> {New}: {Links} links switched atomically")]
    private static partial void LogUpgraded(ILogger log, string old, string @new, int links);

    [LoggerMessage(Level = LogLevel.Information, Message = "policy maps migrated from schema {Old} to {New}: {Links} links switched atomically")]
    private static partial void LogMigrated(ILogger log, string old, int @new, int links);

    [LoggerMessage(Level = LogLevel.Information, Message = "maps synced: verdicts +{VerdictsWritten} -{VerdictsRemoved}, nic_group +{NicsWritten} -{NicsRemoved}")]
    private static partial void LogSynced(ILogger log, int verdictsWritten, int verdictsRemoved, int nicsWritten, int nicsRemoved);


    [LoggerMessage(Level = LogLevel.Error, Message = "cannot enforce {Interface} (ifindex {IfIndex}): {Error}")]
    private static partial void LogAttachFailed(ILogger log, string @interface, int ifIndex, string error);



}
