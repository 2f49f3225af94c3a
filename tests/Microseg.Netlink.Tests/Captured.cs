// The kernel replies recorded by Captures/capture.sh, and `ip -d -j link` of the same moment.
using System.Text.Json;

namespace Microseg.Netlink.Tests;

internal static class Captured
{
    /// <summary>RTM_GETLINK dump of the capture namespace: lo, br0, veth0/veth1, vx0 (gbp), vx1, vx6, vpeer0.</summary>
    public static byte[] LinksDump => Read("links-dump.bin");

    /// <summary>RTM_GETLINK of IFLA_IFNAME "vx0": one RTM_NEWLINK.</summary>
    public static byte[] GetVx0 => Read("link-get-vx0.bin");

    /// <summary>RTM_GETLINK of IFLA_IFNAME "nosuch0": NLMSG_ERROR ENODEV, capped.</summary>
    public static byte[] GetMissing => Read("link-get-missing.bin");

    /// <summary>A dump refused under NETLINK_GET_STRICT_CHK: NLMSG_DONE with -EINVAL and an extended-ack message.</summary>
    public static byte[] DumpRefused => Read("links-dump-extack.bin");

    /// <summary>RTNLGRP_LINK notifications (capture-events.sh): br0 and veth0/veth1 created, veth0
    /// enslaved to br0, set up, freed and deleted; AF_BRIDGE port messages among them.</summary>
    public static byte[] LinkEvents => Read("link-events.bin");

    /// <summary>The ifindexes `ip` gave br0, veth0 and veth1 in the events capture.</summary>
    public static IReadOnlyDictionary<string, int> LinkEventIfIndexes =>
        JsonSerializer.Deserialize<Dictionary<string, int>>(Read("link-events.json"))!;

    /// <summary>`ip -d -j link show` in the capture namespace.</summary>
    public static JsonElement IpLinks => JsonDocument.Parse(Read("links.json")).RootElement;

    /// <summary>The sequence number capture.sh used for each request.</summary>
    public const uint DumpSequence = 1, GetVx0Sequence = 2, GetMissingSequence = 3, DumpRefusedSequence = 4;

    public static IReadOnlyList<LinkInfo> ParseLinks(byte[] replies)
    {
        var links = new List<LinkInfo>();
        foreach (var message in new NetlinkMessageReader(replies))
            if (message.Type == Uapi.RTM_NEWLINK) links.Add(LinkMessageParser.Parse(message));
        return links;
    }

    private static byte[] Read(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Captures", name));
}
