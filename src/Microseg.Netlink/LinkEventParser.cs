// rtnetlink link notifications (RTNLGRP_LINK) to LinkEvents. The group also carries the
// bridge's view of its ports (ifi_family AF_BRIDGE, RTM_DELLINK when a port leaves the bridge,
// not when the link goes): those are not link events and are skipped, as is anything else.
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

public static class LinkEventParser
{
    /// <summary>The event <paramref name="message"/> reports, or null when it is not a link event.</summary>
    /// <exception cref="NetlinkFormatException">a link message that is not well formed.</exception>
    public static LinkEvent? Parse(NetlinkMessage message)
    {
        if (message.Type is not (RTM_NEWLINK or RTM_DELLINK) || LinkMessageParser.Family(message) != AF_UNSPEC)
            return null;
        if (message.Type == RTM_NEWLINK)
            return new LinkUpdated(LinkMessageParser.Parse(message));
        var gone = LinkMessageParser.ParseDeleted(message);
        return new LinkDeleted(gone.IfIndex, gone.Name);
    }

    /// <summary>The events in one datagram (or several back to back), in order.</summary>
    public static void ParseAll(ReadOnlySpan<byte> datagrams, List<LinkEvent> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        foreach (var message in new NetlinkMessageReader(datagrams))
            if (Parse(message) is { } linkEvent) into.Add(linkEvent);
    }
}
