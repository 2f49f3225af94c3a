// Checks parsed links against `ip -d -j link show` of the same namespace, field by field.
using System.Net;
using System.Text.Json;

namespace Microseg.Netlink.Tests;

internal static class IpLinkJson
{
    // iproute2's print_link_flags names; it folds IFF_RUNNING into NO-CARRIER.
    private static readonly (string Name, LinkFlags Flag)[] FlagNames =
    [
        ("LOOPBACK", LinkFlags.Loopback), ("BROADCAST", LinkFlags.Broadcast), ("POINTOPOINT", LinkFlags.PointToPoint),
        ("MULTICAST", LinkFlags.Multicast), ("NOARP", LinkFlags.NoArp), ("ALLMULTI", LinkFlags.AllMulticast),
        ("PROMISC", LinkFlags.Promiscuous), ("NOTRAILERS", LinkFlags.NoTrailers), ("DEBUG", LinkFlags.Debug),
        ("DYNAMIC", LinkFlags.Dynamic), ("AUTOMEDIA", LinkFlags.AutoMedia), ("PORTSEL", LinkFlags.PortSelect),
        ("MASTER", LinkFlags.Master), ("SLAVE", LinkFlags.Slave), ("UP", LinkFlags.Up), ("LOWER_UP", LinkFlags.LowerUp),
        ("DORMANT", LinkFlags.Dormant), ("ECHO", LinkFlags.Echo),
    ];

    public static void AssertMatches(JsonElement ipLinks, IReadOnlyList<LinkInfo> links)
    {
        var expected = ipLinks.EnumerateArray().ToList();
        Assert.Equal(expected.Select(l => l.GetProperty("ifindex").GetInt32()).Order(), links.Select(l => l.IfIndex).Order());
        var indexByName = expected.ToDictionary(l => l.GetProperty("ifname").GetString()!, l => l.GetProperty("ifindex").GetInt32());
        foreach (var ip in expected)
        {
            var link = Assert.Single(links, l => l.IfIndex == ip.GetProperty("ifindex").GetInt32());
            AssertMatches(ip, link, indexByName);
        }
    }

    private static void AssertMatches(JsonElement ip, LinkInfo link, Dictionary<string, int> indexByName)
    {
        string name = ip.GetProperty("ifname").GetString()!;
        Assert.Equal(name, link.Name);
        Assert.Equal(ip.GetProperty("mtu").GetInt32(), link.Mtu);
        Assert.Equal(ip.GetProperty("operstate").GetString(), link.OperState.ToString().ToUpperInvariant());
        Assert.Equal(ip.GetProperty("address").GetString(), FormatMac(link));

        var ipFlags = ip.GetProperty("flags").EnumerateArray().Select(f => f.GetString()!).ToHashSet();
        foreach (var (flagName, flag) in FlagNames)
            Assert.True(ipFlags.Contains(flagName) == link.Flags.HasFlag(flag), $"{name}: flag {flagName}: ip says {ipFlags.Contains(flagName)}");
        Assert.Equal(ipFlags.Contains("NO-CARRIER"), link.Flags.HasFlag(LinkFlags.Up) && !link.Flags.HasFlag(LinkFlags.Running));

        int? master = ip.TryGetProperty("master", out var m) ? indexByName[m.GetString()!] : null;
        Assert.Equal(master, link.MasterIfIndex);
        // ip names the peer when it is in this namespace, and gives its index when it is not.
        int? peer = ip.TryGetProperty("link", out var l) && l.ValueKind == JsonValueKind.String ? indexByName[l.GetString()!]
            : ip.TryGetProperty("link_index", out var li) ? li.GetInt32() : null;
        Assert.Equal(peer, link.LinkIfIndex);
        int? netnsId = ip.TryGetProperty("link_netnsid", out var n) ? n.GetInt32() : null;
        Assert.Equal(netnsId, link.LinkNetnsId);

        if (!ip.TryGetProperty("linkinfo", out var linkinfo))
        {
            Assert.Null(link.Kind);
            Assert.Null(link.Vxlan);
            return;
        }
        Assert.Equal(linkinfo.GetProperty("info_kind").GetString(), link.Kind);
        if (link.Kind != "vxlan")
        {
            Assert.Null(link.Vxlan);
            return;
        }
        var data = linkinfo.GetProperty("info_data");
        var vxlan = Assert.IsType<VxlanInfo>(link.Vxlan);
        Assert.Equal(data.GetProperty("id").GetUInt32(), vxlan.Id);
        Assert.Equal(data.TryGetProperty("gbp", out var gbp) && gbp.GetBoolean(), vxlan.Gbp);
        Assert.Equal(data.GetProperty("port").GetUInt16(), vxlan.Port);
        Assert.Equal(Address(data, "local", "local6"), vxlan.Local);
        Assert.Equal(Address(data, "remote", "remote6") ?? Address(data, "group", "group6"), vxlan.Remote);
    }

    private static IPAddress? Address(JsonElement data, string v4, string v6) =>
        data.TryGetProperty(v4, out var a) || data.TryGetProperty(v6, out a) ? IPAddress.Parse(a.GetString()!) : null;

    private static string FormatMac(LinkInfo link) =>
        string.Join(':', link.Address!.GetAddressBytes().Select(b => b.ToString("x2")));
}
