// The pinned links of one subsystem, links/<slot>: creating, switching, reclaiming and
// detaching them is the same for tcx links (policy on guest NICs, the SRv6 carrier on bridge
// interfaces) and XDP links (the forwarder); a link kind says only how its slot is named and
// how a link is created and opened.
using System.Globalization;
using Microseg.Bpf;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Subsystems;

public enum LinkChange { None, Created, Updated }

/// <summary>Where a link sits: an interface and what makes the link one of a kind there.</summary>
public interface ILinkSlot
{
    int IfIndex { get; }

    /// <summary>The pin's file name (it keeps what the kernel does not report, e.g. an XDP mode).</summary>
    string PinName { get; }

    /// <summary>True when a link in <paramref name="other"/> must go before one in this slot
    /// comes (the same slot; for XDP any slot of the same interface).</summary>
    bool Displaces(ILinkSlot other);
}

/// <summary>A link pin as status shows it. Defunct: its netdev is gone (the next apply reclaims it).</summary>
public sealed record LinkPin<TSlot>(string Path, TSlot Slot, uint ProgramId, int LinkIfIndex, bool Defunct) where TSlot : ILinkSlot
{
    public string DefunctWarning => $"link pin {Path} outlived its netdev (ifindex {Slot.IfIndex}); the next apply reclaims it";
}

public abstract partial class LinkPins<TSlot>(string directory, ILogger log) where TSlot : ILinkSlot
{
    public string Directory { get; } = directory;

    public string PinPath(TSlot slot) => Path.Combine(Directory, slot.PinName);

    protected abstract bool TryParse(string pinName, out TSlot slot);

    protected abstract NetDeviceLink Create(BpfProgram program, TSlot slot);

    protected abstract NetDeviceLink OpenPinned(string path);

    /// <summary>The link pins present: (path, slot). Names that are not ours are skipped.</summary>
    public IEnumerable<(string Path, TSlot Slot)> All()
    {
        if (!System.IO.Directory.Exists(Directory)) yield break;
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory).Order(StringComparer.Ordinal))
            if (TryParse(Path.GetFileName(path), out var slot)) yield return (path, slot);
    }

    /// <summary>Every link pin with what its link says now (program, defunct or not).</summary>
    public IReadOnlyList<LinkPin<TSlot>> Inspect()
    {
        var pins = new List<LinkPin<TSlot>>();
        foreach (var (path, slot) in All())
        {
            using var link = OpenPinned(path);
            var info = link.InfoAtOpen ?? link.Info();
            pins.Add(new LinkPin<TSlot>(path, slot, info.ProgramId, info.IfIndex, info.IsDefunct));
        }
        return pins;
    }

    /// <summary>Makes the pinned link of <paramref name="slot"/> run <paramref name="program"/>:
    /// created when there is none, updated atomically when it runs another program, reclaimed
    /// and recreated when its netdev is gone (the ifindex may be another device's now). Links
    /// the slot displaces go first.</summary>
    /// <summary>The pins that a link in <paramref name="slot"/> displaces (default: every pin
    /// whose slot it says it displaces; one directory read).</summary>
    protected virtual IEnumerable<(string Path, TSlot Slot)> Displaced(TSlot slot) => All().Where(p => slot.Displaces(p.Slot));

    public LinkChange Ensure(string name, TSlot slot, BpfProgram program)
    {
        foreach (var (path, other) in Displaced(slot).ToList())
        {
            using (var existing = OpenPinned(path))
            {
                var info = existing.InfoAtOpen ?? existing.Info();
                if (other.Equals(slot) && !info.IsDefunct && info.IfIndex == slot.IfIndex)
                {
                    if (info.ProgramId == program.Id) return LinkChange.None;
                    existing.Update(program);
                    return LinkChange.Updated;
                }
                if (info.IsDefunct) LogReclaimed(log, path, info.IfIndex);
            }
            TryDetach(path, other);
        }
        using var link = Create(program, slot);
        link.Pin(PinPath(slot));
        LogAttached(log, slot.PinName, name, slot.IfIndex);
        return LinkChange.Created;
    }

    /// <summary>Switches every live link to the new program of its slot (BPF_LINK_UPDATE: no
    /// packet sees neither). Defunct links are left for <see cref="DetachStale"/>.</summary>
    public int SwitchAll(Func<TSlot, BpfProgram> program)
    {
        int switched = 0;
        foreach (var (path, slot) in All())
        {
            using var link = OpenPinned(path);
            if (link.Info().IsDefunct) continue;
            link.Update(program(slot));
            switched++;
        }
        return switched;
    }

    /// <summary>Detaches the links whose slot is not kept, or whose netdev is gone. A kept slot
    /// that <paramref name="live"/> says was just ensured (its link opened and found attached
    /// in this pass) is not opened again.</summary>
    public int DetachStale(Func<TSlot, bool> keep, Func<TSlot, bool>? live = null)
    {
        int removed = 0;
        foreach (var (path, slot) in All().ToList())
        {
            if (live is not null && keep(slot) && live(slot)) continue;
            bool defunct;
            using (var link = OpenPinned(path))
                defunct = (link.InfoAtOpen ?? link.Info()).IsDefunct;
            if (keep(slot) && !defunct) continue;
            TryDetach(path, slot);
            removed++;
        }
        return removed;
    }

    public int DetachAll() => DetachStale(_ => false);

    /// <summary>The links of each item (an interface) made to run their programs, counted into
    /// (created, updated); an item whose link fails is handed to <paramref name="failed"/> and
    /// the others still go.</summary>
    public (List<T> Attached, int Created, int Updated) AttachAll<T>(IEnumerable<T> items, Func<T, string> name,
        Func<T, IEnumerable<(TSlot Slot, BpfProgram Program)>> links, Action<T, BpfException> failed) =>
        Attaching.All(items, name, links, Ensure, failed);

    /// <summary>A failed detach only over-enforces: it is logged, and the pin is removed only
    /// when the detach worked or the netdev is gone.</summary>
    private void TryDetach(string path, TSlot slot)
    {
        try
        {
            using (var link = OpenPinned(path))
                if (!link.Info().IsDefunct) link.Detach();
            Bpffs.Unpin(path);
            LogDetached(log, slot.PinName, slot.IfIndex);
        }
        catch (BpfException e)
        {
            LogDetachFailed(log, path, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "attached link {Slot} to {Interface} (ifindex {IfIndex})")]
    private static partial void LogAttached(ILogger log, string slot, string @interface, int ifIndex);

    [LoggerMessage(Level = LogLevel.Information, Message = "reclaimed link pin {Pin}: its netdev is gone (link reports ifindex {LinkIfIndex})")]
    private static partial void LogReclaimed(ILogger log, string pin, int linkIfIndex);

    [LoggerMessage(Level = LogLevel.Debug, Message = "detached link {Slot} from ifindex {IfIndex}")]
    private static partial void LogDetached(ILogger log, string slot, int ifIndex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "detach {Pin} failed (the interface stays as it was): {Error}")]
    private static partial void LogDetachFailed(ILogger log, string pin, string error);
}

/// <summary>A tcx link: an interface's ingress or egress, pinned as {ifindex}-{ingress|egress}.</summary>
public readonly record struct TcxSlot(int IfIndex, TcxDirection Direction) : ILinkSlot
{
    public static readonly IReadOnlyList<TcxDirection> Directions = [TcxDirection.Ingress, TcxDirection.Egress];

    public static string Word(TcxDirection direction) => direction == TcxDirection.Ingress ? "ingress" : "egress";

    public string PinName => $"{IfIndex.ToString(CultureInfo.InvariantCulture)}-{Word(Direction)}";

    public bool Displaces(ILinkSlot other) => other is TcxSlot t && t == this;
}

public sealed class TcxLinkPins(string directory, ILogger log) : LinkPins<TcxSlot>(directory, log), IAttachmentStore
{
    public AttachMode Mode => AttachMode.Tcx;

    IReadOnlyList<HookAttachment> IAttachmentStore.Inspect() =>
        [.. Inspect().Select(p => new HookAttachment(p.Slot, AttachMode.Tcx, p.Path, p.ProgramId, p.Defunct))];

    protected override bool TryParse(string pinName, out TcxSlot slot)
    {
        slot = default;
        var dash = pinName.IndexOf('-');
        if (dash <= 0 || !int.TryParse(pinName.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var ifIndex)) return false;
        TcxDirection? direction = pinName[(dash + 1)..] switch { "ingress" => TcxDirection.Ingress, "egress" => TcxDirection.Egress, _ => null };
        if (direction is null) return false;
        slot = new TcxSlot(ifIndex, direction.Value);
        return true;
    }

    /// <summary>A tcx slot displaces only its own pin: looked up by name, not by reading the
    /// directory (a full apply ensures every slot: one read each made it quadratic).</summary>
    protected override IEnumerable<(string Path, TcxSlot Slot)> Displaced(TcxSlot slot) =>
        File.Exists(PinPath(slot)) ? [(PinPath(slot), slot)] : [];

    protected override NetDeviceLink Create(BpfProgram program, TcxSlot slot) => TcxLink.Create(program, slot.IfIndex, slot.Direction);

    protected override NetDeviceLink OpenPinned(string path) => TcxLink.OpenPinned(path);
}

/// <summary>The one loop that makes the hooks of each item (an interface) run their programs,
/// shared by pinned links and by the attach-mode seam: counts (created, updated); an item that
/// fails is handed to <c>failed</c> and the others still go.</summary>
internal static class Attaching
{
    public static (List<T> Attached, int Created, int Updated) All<T, TSlot>(IEnumerable<T> items, Func<T, string> name,
        Func<T, IEnumerable<(TSlot Slot, BpfProgram Program)>> hooks, Func<string, TSlot, BpfProgram, LinkChange> ensure,
        Action<T, BpfException> failed)
    {
        var attached = new List<T>();
        int created = 0, updated = 0;
        foreach (var item in items)
        {
            try
            {
                foreach (var (slot, program) in hooks(item))
                {
                    switch (ensure(name(item), slot, program))
                    {
                        case LinkChange.Created: created++; break;
                        case LinkChange.Updated: updated++; break;
                    }
                }
                attached.Add(item);
            }
            catch (BpfException e)
            {
                failed(item, e);
            }
        }
        return (attached, created, updated);
    }
}
