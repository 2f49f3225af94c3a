// The one seam where the attach mode (SPEC §5.1, docs/architecture.md "Attach modes") changes
// what the agent does: a subsystem's programs reach each interface hook either as pinned tcx
// links (TcxLinkPins, kept by their pins) or as microseg's cls_bpf filter on the clsact qdisc
// (TcFilterStore, kept by the device itself). HookAttachments drives the kind of the mode in
// effect and cleans up the other kind, so that switching modes between runs has no gap: the new
// kind is attached first, then the old one removed (a tcx verdict ends processing before the
// clsact filters, so while both are there the tcx link decides).
using Microseg.Bpf;
using Microseg.Netlink;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Subsystems;

/// <summary>An attachment present on a hook, of either kind, as status shows it. Where: its pin
/// (tcx) or its place (tc). Defunct: a pinned tcx link whose netdev is gone (a tc filter goes
/// with its device, so it is never defunct).</summary>
public sealed record HookAttachment(TcxSlot Slot, AttachMode Mode, string Where, uint ProgramId, bool Defunct)
{
    public string DefunctWarning => $"link pin {Where} outlived its netdev (ifindex {Slot.IfIndex}); the next apply reclaims it";
}

/// <summary>The attachments of one kind that one subsystem owns.</summary>
public interface IAttachmentStore
{
    AttachMode Mode { get; }

    /// <summary>Every attachment of this kind the subsystem owns now.</summary>
    IReadOnlyList<HookAttachment> Inspect();

    /// <summary>Makes the hook run <paramref name="program"/>: attached when nothing of this kind
    /// is there, updated in place (atomically) when another program runs, reclaimed when stale.</summary>
    LinkChange Ensure(string name, TcxSlot slot, BpfProgram program);

    /// <summary>Switches every live attachment to the new program of its slot, in place.</summary>
    int SwitchAll(Func<TcxSlot, BpfProgram> program);

    /// <summary>Detaches what is not kept (and what is defunct); returns how many.
    /// <paramref name="live"/>: kept slots whose attachment the caller saw live in this pass
    /// (Ensure just succeeded on them): not looked at again.</summary>
    int DetachStale(Func<TcxSlot, bool> keep, Func<TcxSlot, bool>? live = null);
}

/// <summary>The attach mode in effect for one subsystem: Ensure attaches the mode's kind, and
/// every removal and program switch covers both kinds, so that a change of mode between runs
/// (or a kernel upgrade that brings tcx) converges in one full apply and clear leaves neither.</summary>
public sealed partial class HookAttachments
{
    private readonly IAttachmentStore current;
    private readonly IAttachmentStore other;
    private readonly ILogger log;

    public HookAttachments(AttachModeChoice choice, IAttachmentStore tcx, IAttachmentStore tc, ILogger log)
    {
        Choice = choice;
        (current, other) = choice.Effective == AttachMode.Tc ? (tc, tcx) : (tcx, tc);
        this.log = log;
    }

    /// <summary>The tcx pins under <paramref name="linkDirectory"/> and the tc filters on the
    /// devices of <paramref name="interfaces"/> that <paramref name="owns"/> says are this
    /// subsystem's to attach to (tc filters all sit at microseg's one handle and priority, so the
    /// device says whose a filter is).</summary>
    /// <param name="noTcFilters">Optional: the run-state file that records that no tc filter of
    /// this subsystem is left anywhere (see <see cref="TcFilterStore"/>).</param>
    public static HookAttachments For(AttachModeChoice choice, string linkDirectory, IInterfaceSource interfaces, Func<LinkInfo, bool> owns, ILogger log, string? noTcFilters = null) =>
        new(choice, new TcxLinkPins(linkDirectory, log), new TcFilterStore(() => interfaces.Links().Where(owns).Select(l => l.IfIndex), log) { NoneRecord = noTcFilters }, log);

    public AttachModeChoice Choice { get; }

    /// <summary>The mode in effect: tcx or tc.</summary>
    public AttachMode Mode => current.Mode;

    /// <summary>Why this mode, in a few words for status: "forced", "auto: kernel 6.18.44-fc-v782 has tcx",
    /// "auto: tcx needs kernel ≥ 6.6; this is 6.1.0-18-amd64"; the full reason when the
    /// requested mode cannot be served.</summary>
    public string Reason => Choice switch
    {
        { IsSupported: false } => Choice.Reason,
        { Requested: not AttachMode.Auto } => "forced",
        { Effective: AttachMode.Tcx } => $"auto: kernel {BpfFeatures.KernelRelease} has tcx",
        _ => $"auto: {BpfFeatures.Tcx.Reason}",
    };

    /// <summary>Attachments of both kinds: the mode's first.</summary>
    public IReadOnlyList<HookAttachment> Inspect() => [.. current.Inspect(), .. other.Inspect()];

    /// <summary>A warning when attachments of the other kind remain (a changed mode, or a
    /// detach that failed); null when there are none.</summary>
    public string? LeftoverWarning(IReadOnlyList<HookAttachment> attachments)
    {
        int left = attachments.Count(a => a.Mode != Mode && !a.Defunct);
        return left == 0 ? null :
            $"{left} hook{(left == 1 ? "" : "s")} still run{(left == 1 ? "s" : "")} a {AttachModeChoice.Word(other.Mode)} attachment while the attach mode is {AttachModeChoice.Word(Mode)}: the next apply switches {(left == 1 ? "it" : "them")}";
    }

    /// <summary>Attaches or updates the mode's kind only; an attachment of the other kind on the
    /// hook goes in <see cref="DetachStale"/>, after (the plug path leaves it: both run the same
    /// programs). A tcx link created on a device also gets the device an (empty) clsact qdisc:
    /// created now, while the NIC is new, it costs nothing later; created during a switch to tc
    /// mode it would drop a few milliseconds of the device's traffic (see TcAttachment.EnsureQdisc).</summary>
    public LinkChange Ensure(string name, TcxSlot slot, BpfProgram program)
    {
        var change = current.Ensure(name, slot, program);
        // Once per device, after its last hook (egress goes first): the NIC is enforced before
        // this netlink request, which waits for the RTNL lock.
        if (change == LinkChange.Created && current.Mode == AttachMode.Tcx && slot.Direction == TcxDirection.Ingress)
        {
            try { TcAttachment.EnsureQdisc(slot.IfIndex); }
            catch (BpfException e) { LogQdiscFailed(log, name, slot.IfIndex, e.Message); }
        }
        return change;
    }

    public int SwitchAll(Func<TcxSlot, BpfProgram> program) => current.SwitchAll(program) + other.SwitchAll(program);

    /// <summary>Both kinds: what is not kept goes, and the other kind goes from every hook the
    /// mode's kind holds now; it stays only on a kept hook where the mode's kind could not be
    /// attached (it over-enforces until then, never under-enforces).</summary>
    public int DetachStale(Func<TcxSlot, bool> keep, Func<TcxSlot, bool>? live = null)
    {
        int removed = current.DetachStale(keep, live);
        // What the mode's kind holds is read only when the other kind has something to judge
        // (in tcx mode with no tc filter recorded, never: each read opens every pin).
        HashSet<TcxSlot>? held = null;
        return removed + other.DetachStale(slot =>
            keep(slot) && !(held ??= current.Inspect().Where(a => !a.Defunct).Select(a => a.Slot).ToHashSet()).Contains(slot));
    }

    public int DetachAll() => DetachStale(_ => false);

    /// <summary>The attachments of each item (an interface) made to run their programs, counted
    /// into (created, updated); an item that fails is handed to <paramref name="failed"/> and the
    /// others still go.</summary>
    public (List<T> Attached, int Created, int Updated) AttachAll<T>(IEnumerable<T> items, Func<T, string> name,
        Func<T, IEnumerable<(TcxSlot Slot, BpfProgram Program)>> hooks, Action<T, BpfException> failed) =>
        Attaching.All(items, name, hooks, Ensure, failed);
}

public sealed partial class HookAttachments
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot prepare a clsact qdisc on {Interface} (ifindex {IfIndex}) for tc mode; a switch to tc mode will create it then: {Error}")]
    private static partial void LogQdiscFailed(ILogger log, string @interface, int ifIndex, string error);
}

/// <summary>microseg's tc filters (TcAttachment: handle 0x4d53, priority 1) on the devices a
/// subsystem owns. No pin and no run state: the kernel is the record, asked afresh on every call
/// for the devices present now; a deleted device took its filters, and a recycled ifindex is
/// judged by the device that holds it now. Asking costs a netlink request per hook (each under
/// the kernel's RTNL lock, which every tcx attach on the host holds for an RCU grace period), so
/// in tcx mode a full apply would wait on it for every NIC: with <see cref="NoneRecord"/>, a
/// pass that found none of ours (or removed them all) records that there are none, every
/// attach of a filter removes the record first, and while it is there nothing is asked.</summary>
public sealed partial class TcFilterStore(Func<IEnumerable<int>> devices, ILogger log) : IAttachmentStore
{
    public AttachMode Mode => AttachMode.Tc;

    /// <summary>A file whose presence says that no filter of ours is on any device; null: always ask.</summary>
    public string? NoneRecord { get; init; }

    public IReadOnlyList<HookAttachment> Inspect()
    {
        var found = new List<HookAttachment>();
        if (NoneRecord is not null && File.Exists(NoneRecord)) return found;
        foreach (var ifIndex in devices())
        {
            foreach (var d in TcxSlot.Directions)
            {
                var slot = new TcxSlot(ifIndex, d);
                if (TcAttachment.Find(ifIndex, Hook(d)) is not { } filter) continue;
                uint id = filter.AttachedProgramId();
                if (id != 0) found.Add(new HookAttachment(slot, AttachMode.Tc, filter.ToString(), id, false));
            }
        }
        return found;
    }

    public LinkChange Ensure(string name, TcxSlot slot, BpfProgram program)
    {
        if (TcAttachment.Find(slot.IfIndex, Hook(slot.Direction)) is { } filter)
        {
            if (filter.AttachedProgramId() == program.Id) return LinkChange.None;
            filter.Update(program);
            return LinkChange.Updated;
        }
        if (NoneRecord is not null && File.Exists(NoneRecord)) File.Delete(NoneRecord);
        TcAttachment.Attach(program, slot.IfIndex, Hook(slot.Direction));
        LogAttached(log, TcxSlot.Word(slot.Direction), name, slot.IfIndex);
        return LinkChange.Created;
    }

    public int SwitchAll(Func<TcxSlot, BpfProgram> program)
    {
        int switched = 0;
        foreach (var a in Inspect())
        {
            if (TcAttachment.Find(a.Slot.IfIndex, Hook(a.Slot.Direction)) is not { } filter) continue;
            filter.Update(program(a.Slot));
            switched++;
        }
        return switched;
    }

    public int DetachStale(Func<TcxSlot, bool> keep, Func<TcxSlot, bool>? live = null)
    {
        int removed = 0;
        var found = Inspect();
        foreach (var a in found.Where(a => !keep(a.Slot)))
            if (TcAttachment.Find(a.Slot.IfIndex, Hook(a.Slot.Direction)) is { } filter && TryDetach(filter)) removed++;
        if (NoneRecord is not null && removed == found.Count && !File.Exists(NoneRecord))
        {
            try { File.WriteAllBytes(NoneRecord, []); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>A failed detach only over-enforces: it is logged.</summary>
    private bool TryDetach(TcAttachment filter)
    {
        try
        {
            filter.Detach();
            LogDetached(log, filter.ToString());
            return true;
        }
        catch (BpfException e)
        {
            LogDetachFailed(log, filter.ToString(), e.Message);
            return false;
        }
    }

    private static HookDirection Hook(TcxDirection d) => d == TcxDirection.Ingress ? HookDirection.Ingress : HookDirection.Egress;

    [LoggerMessage(Level = LogLevel.Debug, Message = "attached tc {Direction} filter to {Interface} (ifindex {IfIndex})")]
    private static partial void LogAttached(ILogger log, string direction, string @interface, int ifIndex);

    [LoggerMessage(Level = LogLevel.Debug, Message = "detached {Filter}")]
    private static partial void LogDetached(ILogger log, string filter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "detach {Filter} failed (the interface stays as it was): {Error}")]
    private static partial void LogDetachFailed(ILogger log, string filter, string error);
}
