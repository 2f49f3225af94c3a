// The pinned tcx links of one subsystem, links/{ifindex}-{ingress|egress}: creating, switching,
// reclaiming and detaching them is the same for every subsystem that attaches tc programs
// (policy on guest NICs, the SRv6 carrier on bridge interfaces).
using System.Globalization;
using Microseg.Bpf;
using Microsoft.Extensions.Logging;

namespace Microseg.Agent.Subsystems;

public enum LinkChange { None, Created, Updated }

/// <summary>A link pin as status shows it. Defunct: its netdev is gone (the next apply reclaims it).</summary>
public sealed record LinkPin(string Path, int IfIndex, TcxDirection Direction, uint ProgramId, bool Defunct)
{
    public string DefunctWarning => $"link pin {Path} outlived its netdev (ifindex {IfIndex}); the next apply reclaims it";
}

public sealed partial class TcxLinkPins(string directory, ILogger log)
{
    public static readonly IReadOnlyList<TcxDirection> Directions = [TcxDirection.Ingress, TcxDirection.Egress];

    public string Directory { get; } = directory;

    public static string Word(TcxDirection direction) => direction == TcxDirection.Ingress ? "ingress" : "egress";

    public string PinPath(int ifIndex, TcxDirection direction) =>
        Path.Combine(Directory, $"{ifIndex.ToString(CultureInfo.InvariantCulture)}-{Word(direction)}");

    /// <summary>The link pins present: (path, ifindex, direction). Names that are not ours are skipped.</summary>
    public IEnumerable<(string Path, int IfIndex, TcxDirection Direction)> All()
    {
        if (!System.IO.Directory.Exists(Directory)) yield break;
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            var dash = name.IndexOf('-');
            if (dash <= 0 || !int.TryParse(name.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var ifIndex)) continue;
            var word = name[(dash + 1)..];
            if (word == "ingress") yield return (path, ifIndex, TcxDirection.Ingress);
            else if (word == "egress") yield return (path, ifIndex, TcxDirection.Egress);
        }
    }

    /// <summary>Every link pin with what its link says now (program, defunct or not).</summary>
    public IReadOnlyList<LinkPin> Inspect()
    {
        var pins = new List<LinkPin>();
        foreach (var (path, ifIndex, direction) in All())
        {
            using var link = TcxLink.OpenPinned(path);
            var info = link.Info();
            pins.Add(new LinkPin(path, ifIndex, direction, info.ProgramId, info.IsDefunct));
        }
        return pins;
    }

    /// <summary>Makes the pinned link of (ifindex, direction) run <paramref name="program"/>:
    /// created when there is none, updated atomically when it runs another program, reclaimed
    /// and recreated when its netdev is gone (the ifindex may be another device's now).</summary>
    public LinkChange Ensure(string name, int ifIndex, TcxDirection direction, BpfProgram program)
    {
        var pin = PinPath(ifIndex, direction);
        if (File.Exists(pin))
        {
            using var existing = TcxLink.OpenPinned(pin);
            var info = existing.Info();
            if (!info.IsDefunct && info.IfIndex == ifIndex)
            {
                if (info.ProgramId == program.Info().Id) return LinkChange.None;
                existing.Update(program);
                return LinkChange.Updated;
            }
            LogReclaimed(log, pin, info.IfIndex);
            Bpffs.Unpin(pin);
        }
        using var link = TcxLink.Create(program, ifIndex, direction);
        link.Pin(pin);
        LogAttached(log, Word(direction), name, ifIndex);
        return LinkChange.Created;
    }

    /// <summary>Switches every live link to the new program of its direction (BPF_LINK_UPDATE:
    /// no packet sees neither). Defunct links are left for <see cref="DetachStale"/>.</summary>
    public int SwitchAll(Func<TcxDirection, BpfProgram> program)
    {
        int switched = 0;
        foreach (var (path, _, direction) in All())
        {
            using var link = TcxLink.OpenPinned(path);
            if (link.Info().IsDefunct) continue;
            link.Update(program(direction));
            switched++;
        }
        return switched;
    }

    /// <summary>Detaches the links whose ifindex is not kept, or whose netdev is gone.</summary>
    public int DetachStale(IReadOnlySet<int> keep)
    {
        int removed = 0;
        foreach (var (path, ifIndex, direction) in All().ToList())
        {
            bool defunct;
            using (var link = TcxLink.OpenPinned(path))
                defunct = link.Info().IsDefunct;
            if (keep.Contains(ifIndex) && !defunct) continue;
            TryDetach(path, ifIndex, direction);
            removed++;
        }
        return removed;
    }

    public int DetachAll() => DetachStale(new HashSet<int>());

    /// <summary>A failed detach only over-enforces: it is logged, and the pin is removed only
    /// when the detach worked or the netdev is gone.</summary>
    private void TryDetach(string path, int ifIndex, TcxDirection direction)
    {
        try
        {
            using (var link = TcxLink.OpenPinned(path))
                if (!link.Info().IsDefunct) link.Detach();
            Bpffs.Unpin(path);
            LogDetached(log, Word(direction), ifIndex);
        }
        catch (BpfException e)
        {
            LogDetachFailed(log, path, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "attached {Direction} to {Interface} (ifindex {IfIndex})")]
    private static partial void LogAttached(ILogger log, string direction, string @interface, int ifIndex);

    [LoggerMessage(Level = LogLevel.Information, Message = "reclaimed link pin {Pin}: its netdev is gone (link reports ifindex {LinkIfIndex})")]
    private static partial void LogReclaimed(ILogger log, string pin, int linkIfIndex);

    [LoggerMessage(Level = LogLevel.Debug, Message = "detached {Direction} from ifindex {IfIndex}")]
    private static partial void LogDetached(ILogger log, string direction, int ifIndex);

    [LoggerMessage(Level = LogLevel.Warning, Message = "detach {Pin} failed (the interface stays as it was): {Error}")]
    private static partial void LogDetachFailed(ILogger log, string pin, string error);
}
