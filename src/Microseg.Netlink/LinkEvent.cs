// What a LinkEventSubscription reports: typed rtnetlink link notifications, and a full list
// whenever the subscriber must (re)build its table from scratch.
namespace Microseg.Netlink;

/// <summary>One change to the namespace's links, in the order the kernel made them.</summary>
public abstract record LinkEvent;

/// <summary>RTM_NEWLINK: the link exists now, as <paramref name="Link"/> says; it is new, or
/// something about it changed (flags, operstate, master, name, ...). Keyed by ifindex.</summary>
public sealed record LinkUpdated(LinkInfo Link) : LinkEvent;

/// <summary>RTM_DELLINK: the link is gone (deleted, or moved to another namespace). Its ifindex
/// may be given to a new link later.</summary>
public sealed record LinkDeleted(int IfIndex, string Name) : LinkEvent;

/// <summary>Every link in the namespace, from a dump taken after any event already reported:
/// replace the whole table with <paramref name="Links"/>, then go on applying events.</summary>
public sealed record LinkResync(IReadOnlyList<LinkInfo> Links, LinkResyncReason Reason) : LinkEvent;

public enum LinkResyncReason
{
    /// <summary>The first event of every subscription: the table to start from.</summary>
    Subscribed,

    /// <summary>The kernel dropped notifications because the receive buffer was full (recv
    /// failed with ENOBUFS); what was queued before the loss was discarded unread.</summary>
    EventsLost,
}
