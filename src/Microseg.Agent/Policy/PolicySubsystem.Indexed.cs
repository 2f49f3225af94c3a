// The policy subsystem's side of the plug index (PlugIndex): the full apply writes it (or
// removes it when it cannot vouch for it), the one-shot plug path reads it instead of the
// snapshot. A plug from the index does what the plug path does with the snapshot (same map
// writes, same links, same report); whenever the index cannot answer exactly, it answers
// null and the caller takes that path.
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Netlink;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Policy;

public sealed partial class PolicySubsystem
{
    /// <summary>The plug index of this host (run state: gone with /run at boot and with clear).</summary>
    public string IndexPath => Path.Combine(State.Directory, PlugIndex.FileName);

    /// <summary>A full apply of the host's plan, then the plug index made to describe it: kept
    /// when it already does, written when the snapshot is known by its stamp, removed otherwise
    /// (also when the apply fails: the maps may be between two snapshots).</summary>
    private PolicyApplyResult ApplyIndexed(HostState host, Func<PolicyPlan, PolicyApplyResult> apply)
    {
        var plan = PolicyPlan.ForHost(host.Config, Local(host), LoadSlots());
        PolicyApplyResult result;
        try { result = apply(plan); }
        catch
        {
            ForgetIndex();
            throw;
        }
        UpdateIndex(host, plan, result);
        return result;
    }

    private void UpdateIndex(HostState host, PolicyPlan plan, PolicyApplyResult result)
    {
        try
        {
            if (host.SnapshotStamp is not { } stamp || !Pins.AllPresent)
            {
                ForgetIndex();
                return;
            }
            var version = new PlugIndexVersion(stamp, Program.Fingerprint, Program.Schema, Options.Node,
                MapId(Pins.NicGroup), MapId(Pins.Verdicts), MapId(Pins.Services));
            // Vouched for only when every planned NIC is enforced: a failed one is left to the next full apply.
            var applied = result.Failed.Count == 0 && result.Desired is { } d
                ? new FullApplyRecord([.. plan.Nics.Select(n => (n.Name, n.IfIndex))], d.NicGroup, d.Verdicts, d.Services)
                : null;
            if (PlugIndex.TryRead(IndexPath, out _) is { } existing && existing.Version == version && Equals(existing.Applied, applied)) return;
            var (names, all) = OtherSubsystemNames(host.Config, Options.Node);
            AtomicFile.Write(IndexPath, PlugIndex.Build(new PolicyVersionedPlan(plan, host.Config, version, names, all, Capacity.MaxServices) { Applied = applied }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BpfException)
        {
            LogIndexNotWritten(Log, e.Message);
            ForgetIndex();
        }
    }

    /// <summary>The plug path with a snapshot: an index that is not of that snapshot goes (the
    /// plug may write that snapshot's words for a group the index would call present).</summary>
    private void InvalidateIndexUnless(string? stamp)
    {
        if (!File.Exists(IndexPath)) return;
        if (stamp is not null && PlugIndex.TryRead(IndexPath, out _) is { } index && index.Version.Stamp == stamp) return;
        ForgetIndex();
    }

    /// <summary>clear: the index and the tc record go with the rest of the run state.</summary>
    private void ForgetRunFiles()
    {
        ForgetIndex();
        State.ForgetNoTcFilters();
    }

    private void ForgetIndex()
    {
        try { File.Delete(IndexPath); }
        catch (DirectoryNotFoundException) { }
    }

    private static uint MapId(string pin)
    {
        using var map = BpfMap.OpenPinned(pin);
        return map.Info().Id;
    }

    /// <summary>Interface names the carrier and forwarder subsystems act on, on this node, and
    /// whether a forwarder takes every interface.</summary>
    private static (IReadOnlySet<string> Names, bool All) OtherSubsystemNames(PolicyConfig config, string node)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool all = false;
        foreach (var b in config.Bridges.Values.Where(b => b.AppliesTo(node))) names.Add(b.Name);
        foreach (var f in config.Forwarders.Values.Where(f => f.AppliesTo(node)))
        {
            names.Add(f.Router);
            foreach (var p in f.Physical)
            {
                if (p == Microseg.Agent.Forwarder.ForwarderPlan.Wildcard) all = true;
                names.Add(p);
            }
        }
        return (names, all);
    }

    /// <summary>`apply IFACE` from the plug index, for the committed snapshot with stamp
    /// <paramref name="stamp"/>: null (and why) when the index cannot answer exactly what the
    /// plug path would do with the snapshot: missing, stale or corrupt index, programs not
    /// current, a name another subsystem may act on (a carrier bridge, a forwarder's interface,
    /// a NIC in a bridge with a vxlan device that lacks gbp, which the carrier warns about), a
    /// NIC that is not there or not assigned.</summary>
    public PolicyReport? TryPlugIndexed(string name, string stamp, out string why)
    {
        if (!GuestNic.TryParse(name, out var guest))
        {
            why = "not a guest NIC name";
            return null;
        }
        using (SubsystemLock.Shared(State.LockPath))
        {
            if (CurrentIndex(stamp, out why) is not { } index) return null;
            var v = index.Version;
            if (index.ForwarderTakesAll || index.OtherSubsystemNames.Contains(name))
            {
                why = "another subsystem acts on this name";
                return null;
            }
            if (!index.Assignments.ContainsKey(guest.AssignmentId))
            {
                why = "no assignment in the index";
                return null;
            }
            LinkInfo? link;
            using (var rt = new RtNetlink())
            {
                link = rt.GetLink(name);
                if (link is null || link.Kind is "bridge" or "vxlan")
                {
                    why = link is null ? "no such interface" : "the interface is a bridge or a vxlan device";
                    return null;
                }
                // In a bridge: the carrier warns when a vxlan device on that bridge lacks gbp.
                if (link.MasterIfIndex is { } master && rt.GetLinks().Any(l => l.Kind == "vxlan" && l.MasterIfIndex == master && !(l.Vxlan?.Gbp ?? false)))
                {
                    why = "the interface's bridge has a vxlan device without gbp (the carrier warns)";
                    return null;
                }
            }
            Links.Choice.ThrowIfUnsupported();
            using var loaded = OpenPinned();
            if (!SameMaps(loaded, v))
            {
                why = "plug index is of other maps";
                return null;
            }
            // A group already on the host has its column and its counter slots in the maps: its
            // slots are those of a NIC of the group. A group new on the host is planned as the
            // plug path plans it, from the part of the snapshot that decides its verdicts.
            var nic = index.Nic(link)!;
            NicInfo? sibling = null;
            foreach (var (_, e) in loaded.NicGroup.Entries())
                if (e.Group == nic.Mark) { sibling = e; break; }
            if (sibling is { } same)
            {
                why = "";
                return new PolicyReport(PlugIndexed(loaded, nic, same));
            }
            PolicyConfig subset;
            try { subset = index.ReadSubset(IndexPath); }
            catch (ConfigException e)
            {
                why = $"the plug index's part of the snapshot is unreadable: {e.Message}";
                return null;
            }
            using var slots = SubsystemLock.Exclusive(SlotsLockPath);
            if (PolicyPlan.ForInterface(subset, new LocalInterface(link.Name, link.IfIndex), LoadSlots()) is not { } plan)
            {
                why = "no assignment in the plug index's part of the snapshot";
                return null;
            }
            why = "";
            return new PolicyReport(Plug(plan, loaded));
        }
    }

    /// <summary>The plug index when it is of the snapshot with stamp <paramref name="stamp"/>,
    /// this build's loaded programs and this node; null (and why) otherwise.</summary>
    private PlugIndex? CurrentIndex(string stamp, out string why)
    {
        if (!IsCurrent)
        {
            why = "programs not loaded or not this build's";
            return null;
        }
        if (PlugIndex.TryRead(IndexPath, out var problem) is not { } index)
        {
            why = problem!;
            return null;
        }
        var v = index.Version;
        if (v.Stamp != stamp || v.Fingerprint != Program.Fingerprint || v.Schema != Program.Schema || v.Node != Options.Node)
        {
            why = "plug index is of another snapshot, build or node";
            return null;
        }
        why = "";
        return index;
    }

    private static bool SameMaps(Loaded loaded, PlugIndexVersion v) =>
        loaded.NicGroup.Map.Info().Id == v.NicGroupMapId && loaded.Verdicts.Map.Info().Id == v.VerdictsMapId && loaded.Services.Map.Info().Id == v.ServicesMapId;

    /// <summary>A full apply of the snapshot with stamp <paramref name="stamp"/> when the plug
    /// index shows it would write nothing: the index is of that snapshot, the last full apply
    /// vouched for what it left (every NIC enforced), the host's guest NICs are the ones it
    /// enforced, and nic_group, verdicts and services hold exactly the entries it wanted (their
    /// digests). Then the snapshot is not read and nothing is planned; the links are checked and
    /// repaired, and the monitor's rate set, as a full apply does them. Null (and why)
    /// otherwise: the caller takes the full path. <paramref name="others"/>: the snapshot's
    /// bridges and forwarders, for the subsystems after this one.</summary>
    public PolicyReport? TryApplyUnchanged(string stamp, IReadOnlyList<LinkInfo> links, out PolicyConfig? others, out string why)
    {
        others = null;
        using (SubsystemLock.Exclusive(State.LockPath))
        {
            if (CurrentIndex(stamp, out why) is not { } index) return null;
            if (index.Applied is not { } applied)
            {
                why = "the last full apply did not vouch for what it left";
                return null;
            }
            var nics = links.OrderBy(l => l.Name, StringComparer.Ordinal).Select(index.Nic).OfType<EnforcedNic>().ToList();
            if (!nics.Select(n => (n.Name, n.IfIndex)).SequenceEqual(applied.Nics))
            {
                why = "the host's guest NICs are not those of the last full apply";
                return null;
            }
            // What the full path checks before it touches the kernel (the limits may be lower
            // in this run): it says so, this path does not.
            if (applied.NicGroup.Count > Capacity.MaxNics || applied.Verdicts.Count > Capacity.MaxWords || applied.Services.Count > Capacity.MaxServices
                || nics.Select(n => n.Mark).Distinct().Count() > Capacity.MaxDestinations)
            {
                why = "the host is over a limit of this run's";
                return null;
            }
            Links.Choice.ThrowIfUnsupported();
            using var loaded = OpenPinned();
            if (!SameMaps(loaded, index.Version))
            {
                why = "plug index is of other maps";
                return null;
            }
            if (MapDigest.Of(loaded.NicGroup.Entries()) != applied.NicGroup || MapDigest.Of(loaded.Verdicts.Entries()) != applied.Verdicts
                || MapDigest.Of(loaded.Services.Entries()) != applied.Services)
            {
                why = "the maps hold other entries than the last full apply left";
                return null;
            }
            try { others = index.ReadOthers(IndexPath); }
            catch (ConfigException e)
            {
                why = $"the plug index's bridges and forwarders are unreadable: {e.Message}";
                return null;
            }
            SyncMonitorSettings(loaded);
            var (enforced, failed, created, updated) = AttachAll(loaded, nics);
            var keep = nics.Select(n => n.IfIndex).ToHashSet();
            var live = enforced.Select(n => n.IfIndex).ToHashSet();
            var removed = Links.DetachStale(slot => keep.Contains(slot.IfIndex), slot => live.Contains(slot.IfIndex));
            why = "";
            return new PolicyReport(new PolicyApplyResult(LoadOutcome.Reused, enforced, failed, 0, 0, 0, 0, created, updated, removed));
        }
    }

    /// <summary>What <see cref="Plug(PolicyPlan, Loaded)"/> does for a NIC whose group some NIC in
    /// nic_group has already: the group's column and slots are in the maps (the full apply that
    /// wrote the index synced them, and a plug writes a column before the NIC that needs it), so
    /// only the NIC is written, with the slots of <paramref name="sibling"/>.</summary>
    private PolicyApplyResult PlugIndexed(Loaded loaded, EnforcedNic nic, NicInfo sibling)
    {
        var want = new NicInfo(nic.Mark, (ushort)nic.Flags, sibling.DenySlot, sibling.ReplySlot, sibling.InfraSlot);
        int nicsBefore = loaded.NicGroup.Count();
        bool nicCurrent = loaded.NicGroup.TryLookup((uint)nic.IfIndex, out var have) && have == want;
        if (!nicCurrent) Capacity.CheckTransition("nic_group", nicsBefore, have.Group == 0 ? 1 : 0, Capacity.MaxNics);
        int nw = 0;
        if (!nicCurrent) { loaded.NicGroup.Update((uint)nic.IfIndex, want); nw++; }
        var (enforced, failed, created, updated) = AttachAll(loaded, [nic]);
        return new PolicyApplyResult(LoadOutcome.Reused, enforced, failed, nw, 0, 0, 0, created, updated, 0);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the plug index was not written (plugs read the snapshot until the next apply): {Error}")]
    private static partial void LogIndexNotWritten(ILogger log, string error);
}
