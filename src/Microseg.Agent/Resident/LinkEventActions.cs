// What the resident agent does about each rtnetlink link event: plug a link that appeared (or
// took a new name), reclaim after a guest NIC went, start over after a resync. Pure: decided
// against the interface table as it was before the event, so it is tested without a kernel.
using Microseg.Agent.Policy;
using Microseg.Netlink;

namespace Microseg.Agent.Resident;

/// <summary>What one link event asks of the agent.</summary>
public abstract record LinkAction
{
    /// <summary>Nothing: a change to a link already handled (flags, operstate, master, carrier).</summary>
    public static readonly LinkAction None = new NoAction();

    private sealed record NoAction : LinkAction;
}

/// <summary>The plug path for one interface (`apply IFACE`): a guest NIC, a carrier bridge or
/// a forwarder's physical NIC that just appeared; anything else is a no-op there.</summary>
public sealed record PlugLink(string Name, int IfIndex) : LinkAction;

/// <summary>A full apply: the table was rebuilt, or a guest NIC went and its links and
/// nic_group entry are to be reclaimed (before the kernel gives its ifindex to another link).</summary>
public sealed record FullApply(string Reason) : LinkAction;

public static class LinkEventActions
{
    /// <summary>The action <paramref name="linkEvent"/> asks for, given the link the table held
    /// at its ifindex before it (null when none).</summary>
    public static LinkAction Decide(LinkEvent linkEvent, Func<int, LinkInfo?> before) => linkEvent switch
    {
        LinkResync { Reason: LinkResyncReason.EventsLost } => new FullApply("link events were lost (ENOBUFS): resynced the interface table"),
        LinkResync => new FullApply("interface table loaded"),
        LinkDeleted d when GuestNic.TryParse(d.Name, out _) => new FullApply($"{d.Name} (ifindex {d.IfIndex}) is gone: reclaim its links"),
        LinkDeleted => LinkAction.None,
        // The first RTM_NEWLINK of a link (or of a new name on it): before it is enslaved or up.
        LinkUpdated u when before(u.Link.IfIndex) is not { } old || old.Name != u.Link.Name => new PlugLink(u.Link.Name, u.Link.IfIndex),
        LinkUpdated => LinkAction.None,
        _ => LinkAction.None,
    };

    /// <summary>Applies <paramref name="events"/> to <paramref name="table"/> in order and
    /// returns the actions they ask for, in the same order.</summary>
    public static List<LinkAction> Apply(IReadOnlyList<LinkEvent> events, Subsystems.InterfaceTable table)
    {
        var actions = new List<LinkAction>();
        foreach (var e in events)
        {
            var action = Decide(e, table.Link);
            switch (e)
            {
                case LinkUpdated u: table.Set(u.Link); break;
                case LinkDeleted d: table.Remove(d.IfIndex); break;
                case LinkResync r: table.Replace(r.Links); break;
            }
            if (action != LinkAction.None) actions.Add(action);
        }
        return actions;
    }
}

/// <summary>One batch of work: either a full apply (it covers every link) or the plugs, in
/// the order their links appeared, each name once.</summary>
public sealed record LinkWorkPlan(string? FullApplyReason, IReadOnlyList<PlugLink> Plugs)
{
    public static LinkWorkPlan Of(IEnumerable<LinkAction> actions)
    {
        string? full = null;
        var plugs = new List<PlugLink>();
        foreach (var a in actions)
        {
            switch (a)
            {
                case FullApply f: full ??= f.Reason; break;
                case PlugLink p when !plugs.Any(q => q.Name == p.Name): plugs.Add(p); break;
            }
        }
        return new LinkWorkPlan(full, full is null ? plugs : []);
    }
}
