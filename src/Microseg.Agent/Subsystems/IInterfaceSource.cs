// Where the agent learns which interfaces this host has. A one-shot run dumps them over
// rtnetlink; a resident agent keeps an InterfaceTable current from link events and hands the
// same apply and plug code that table.
using Microseg.Netlink;

namespace Microseg.Agent.Subsystems;

public interface IInterfaceSource
{
    /// <summary>The interfaces present now, in this network namespace.</summary>
    IReadOnlyList<LinkInfo> Links();
}

/// <summary>A fresh RTM_GETLINK dump per call.</summary>
public sealed class NetlinkInterfaces : IInterfaceSource
{
    public IReadOnlyList<LinkInfo> Links()
    {
        using var netlink = new RtNetlink();
        return netlink.GetLinks();
    }
}

/// <summary>An in-memory table kept current by whoever owns it (RTM_NEWLINK sets, RTM_DELLINK
/// removes); thread-safe, and Links() is a snapshot.</summary>
public sealed class InterfaceTable : IInterfaceSource
{
    private readonly Dictionary<int, LinkInfo> links = [];

    public InterfaceTable(IEnumerable<LinkInfo>? initial = null)
    {
        foreach (var l in initial ?? []) Set(l);
    }

    public void Set(LinkInfo link)
    {
        lock (links) links[link.IfIndex] = link;
    }

    public bool Remove(int ifIndex)
    {
        lock (links) return links.Remove(ifIndex);
    }

    /// <summary>The link at <paramref name="ifIndex"/>, or null.</summary>
    public LinkInfo? Link(int ifIndex)
    {
        lock (links) return links.GetValueOrDefault(ifIndex);
    }

    /// <summary>Replaces every entry (a full dump after a resync).</summary>
    public void Replace(IEnumerable<LinkInfo> all)
    {
        lock (links)
        {
            links.Clear();
            foreach (var l in all) links[l.IfIndex] = l;
        }
    }

    public IReadOnlyList<LinkInfo> Links()
    {
        lock (links) return [.. links.Values.OrderBy(l => l.IfIndex)];
    }
}
