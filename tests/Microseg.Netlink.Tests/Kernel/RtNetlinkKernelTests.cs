// RtNetlink against the real kernel, inside a namespace of the test's own, checked against
// what `ip` sees in the same namespace.
using System.Net;
using Microseg.TestSupport;

namespace Microseg.Netlink.Tests.Kernel;

public sealed class RtNetlinkKernelTests : IDisposable
{
    private readonly TestNamespace ns = new();

    public void Dispose() => ns.Dispose();

    /// <summary>br0 with veth0 (peer veth1), vx0 (vxlan, gbp) and vx1 (vxlan, no gbp) as ports.</summary>
    private void BuildBridgeWithVxlans()
    {
        ns.Ip("link", "add", "br0", "type", "bridge");
        ns.Ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
        ns.Ip("link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789", "local", "10.0.0.1", "remote", "10.0.0.2", "gbp");
        ns.Ip("link", "add", "vx1", "type", "vxlan", "id", "43", "dstport", "4790", "local", "10.0.0.1", "remote", "10.0.0.2");
        foreach (var port in new[] { "veth0", "vx0", "vx1" })
            ns.Ip("link", "set", port, "master", "br0");
        foreach (var device in new[] { "lo", "br0", "veth0", "veth1", "vx0", "vx1" })
            ns.Ip("link", "set", device, "up");
    }

    private IReadOnlyList<LinkInfo> GetLinksInside() =>
        NetworkNamespace.Run(ns.Name, () =>
        {
            using var rtnl = new RtNetlink();
            return rtnl.GetLinks();
        });

    [KernelFact]
    public void GetLinks_matches_ip_link_in_the_same_namespace()
    {
        BuildBridgeWithVxlans();

        var links = GetLinksInside();

        Assert.Equal(["lo", "br0", "veth0", "veth1", "vx0", "vx1"], links.Select(l => l.Name).Order(Comparer<string>.Create(Order)));
        IpLinkJson.AssertMatches(ns.IpLinks(), links);
    }

    [KernelFact]
    public void Kinds_masters_and_the_gbp_flag()
    {
        BuildBridgeWithVxlans();

        var links = GetLinksInside().ToDictionary(l => l.Name);

        int bridge = ns.IfIndex("br0");
        Assert.Equal(bridge, links["br0"].IfIndex);
        Assert.Equal("bridge", links["br0"].Kind);
        Assert.Null(links["lo"].Kind);
        Assert.Equal(("veth", bridge), (links["veth0"].Kind, links["veth0"].MasterIfIndex));
        Assert.Equal(("veth", (int?)null), (links["veth1"].Kind, links["veth1"].MasterIfIndex));
        Assert.Equal(ns.IfIndex("veth1"), links["veth0"].LinkIfIndex);
        Assert.Equal(("vxlan", bridge), (links["vx0"].Kind, links["vx0"].MasterIfIndex));
        Assert.Equal(("vxlan", bridge), (links["vx1"].Kind, links["vx1"].MasterIfIndex));
        var local = IPAddress.Parse("10.0.0.1");
        var remote = IPAddress.Parse("10.0.0.2");
        Assert.Equal(new VxlanInfo(42, Gbp: true, 4789, local, remote), links["vx0"].Vxlan);
        Assert.Equal(new VxlanInfo(43, Gbp: false, 4790, local, remote), links["vx1"].Vxlan);
        Assert.True(links["br0"].IsUp);
    }

    [KernelFact]
    public void GetLink_by_name_and_by_index_equal_the_dump_entry_and_missing_is_null()
    {
        BuildBridgeWithVxlans();

        var (dump, byName, byIndex, missingName, missingIndex) = NetworkNamespace.Run(ns.Name, () =>
        {
            using var rtnl = new RtNetlink();
            var links = rtnl.GetLinks();
            int vx0 = links.Single(l => l.Name == "vx0").IfIndex;
            return (links, rtnl.GetLink("vx0"), rtnl.GetLink(vx0), rtnl.GetLink("nosuch0"), rtnl.GetLink(100_000));
        });

        var expected = dump.Single(l => l.Name == "vx0");
        Assert.Equal(expected, byName);
        Assert.Equal(expected, byIndex);
        Assert.Null(missingName);
        Assert.Null(missingIndex);
    }

    [KernelFact]
    public void A_veth_peer_in_another_namespace_is_reported_with_its_netnsid()
    {
        using var other = new TestNamespace();
        ns.Ip("link", "add", "vpeer0", "type", "veth", "peer", "name", "vpeer1", "netns", other.Name);

        var link = NetworkNamespace.Run(ns.Name, () =>
        {
            using var rtnl = new RtNetlink();
            return rtnl.GetLink("vpeer0");
        });

        Assert.NotNull(link);
        Assert.Equal(other.IfIndex("vpeer1"), link.LinkIfIndex);
        Assert.NotNull(link.LinkNetnsId);
        // `ip netns list-id`: the id this namespace gave the other one.
        Assert.Contains($"nsid {link.LinkNetnsId} ", ns.Ip("netns", "list-id") + " ");
    }

    [KernelFact]
    public void A_dump_larger_than_one_datagram_returns_every_link_once()
    {
        // 200 veth pairs: about 250 KiB of replies, several 32 KiB datagrams.
        ns.IpBatch(Enumerable.Range(0, 200).Select(i => $"link add va{i} type veth peer name vb{i}"));

        var links = GetLinksInside();

        Assert.Equal(401, links.Count);
        Assert.Equal(links.Count, links.Select(l => l.IfIndex).Distinct().Count());
        IpLinkJson.AssertMatches(ns.IpLinks(), links);
    }

    [KernelFact]
    public void A_dump_interrupted_by_link_changes_is_redone_until_consistent()
    {
        ns.IpBatch(Enumerable.Range(0, 100).Select(i => $"link add va{i} type veth peer name vb{i}"));
        var steady = Enumerable.Range(0, 100).SelectMany(i => new[] { $"va{i}", $"vb{i}" }).Append("lo").ToHashSet();
        using var rtnl = NetworkNamespace.Run(ns.Name, () => new RtNetlink());
        // One `ip` process per change: measured here, about 6% of dumps then see NLM_F_DUMP_INTR,
        // so a few hundred dumps meet it and ten in a row (our retry limit) practically never do.
        using var churn = ns.StartChurn();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int dumps = 0;
        while ((rtnl.InterruptedDumps == 0 || dumps < 200) && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var links = rtnl.GetLinks();
            dumps++;
            Assert.Equal(links.Count, links.Select(l => l.IfIndex).Distinct().Count());
            Assert.Subset(links.Select(l => l.Name).ToHashSet(), steady);
        }
        Assert.True(rtnl.InterruptedDumps > 0, $"no NLM_F_DUMP_INTR in {dumps} dumps during link churn");
    }

    [KernelFact]
    public void A_socket_opened_inside_the_namespace_stays_there_when_used_outside()
    {
        ns.Ip("link", "add", "only-here", "type", "bridge");

        using var rtnl = NetworkNamespace.Run(ns.Name, () => new RtNetlink());

        Assert.Equal(["lo", "only-here"], rtnl.GetLinks().Select(l => l.Name).Order());
        Assert.NotNull(rtnl.GetLink("only-here"));
    }

    [KernelFact]
    public void Requests_on_a_disposed_socket_throw()
    {
        var rtnl = NetworkNamespace.Run(ns.Name, () => new RtNetlink());
        rtnl.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rtnl.GetLinks());
    }

    // lo first, then by name: the order of the expected list above, not a claim about the dump's.
    private static int Order(string? a, string? b) =>
        (a == "lo", b == "lo") switch { (true, false) => -1, (false, true) => 1, _ => string.CompareOrdinal(a, b) };
}
