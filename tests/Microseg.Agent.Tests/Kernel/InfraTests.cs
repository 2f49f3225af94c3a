// Infrastructure traffic under a policy without any untagged rule: a guest gets its address from
// a DHCP server on the host (dnsmasq, bound to the lab bridge only), is offered one by DHCPv6
// (its Solicit to ff02::1:2 port 547 answered by an Advertise to port 546) and resolves its
// gateway with ARP and neighbour discovery; with `infra 0` on its group it can do none of it.
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class InfraTests
{
    private const string Gateway = "10.78.0.1", Gateway6 = "fd78::1";

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void A_guest_gets_its_address_by_dhcp_and_resolves_its_gateway_unless_infra_is_off(string attach)
    {
        using var lab = new LabGuard(StatefulTests.WebToDb, [("web", 110, 0), ("db", 120, 0)], attach: attach);
        var web = lab.Guest("web");
        var hostNs = lab.Lab.Namespace(lab.Host.Name);
        var guestNs = lab.Lab.Namespace(web.Name);
        Shell.Ip("-n", hostNs, "addr", "add", $"{Gateway}/16", "dev", lab.Host.Bridge);
        Shell.Ip("-n", hostNs, "addr", "add", $"{Gateway6}/64", "dev", lab.Host.Bridge, "nodad");
        Shell.Ip("-n", guestNs, "addr", "add", "fd78::110/64", "dev", web.GuestNic, "nodad");
        using var dhcp = DhcpServer.Start(hostNs, lab.Host.Bridge, "10.78.1.10", "10.78.1.20", "255.255.0.0", Gateway,
            Path.Combine(lab.Lab.Directory, "dhcp"), range6: "fd78::100,fd78::1ff");

        Shell.Ip("-n", guestNs, "-4", "addr", "flush", "dev", web.GuestNic);
        var lease = DhcpClient.Lease(lab.Lab, web);
        Assert.True(lease is not null && lease.StartsWith("10.78.1.", StringComparison.Ordinal) && lease.EndsWith("/16", StringComparison.Ordinal),
            $"web's lease: {lease ?? "none"}; dnsmasq: {dhcp.Log}");
        Assert.True(Resolves(guestNs, web, Gateway), "web resolves its gateway by ARP");
        Assert.True(Resolves(guestNs, web, Gateway6), "web resolves its gateway by neighbour discovery");
        var offer = Dhcp6Client.Advertised(lab.Lab, web);
        Assert.True(offer is not null && offer.ToString().StartsWith("fd78::1", StringComparison.Ordinal) && offer.ToString().Length > "fd78::1".Length,
            $"web's DHCPv6 offer: {offer?.ToString() ?? "no Advertise"}; dnsmasq: {dhcp.Log}");

        // infra 0 on web's group: no answer from DHCP, ARP or ND reaches web.
        lab.Lab.Commit(StatefulTests.WebToDb.Replace("group: web\n\tmark 10\n", "group: web\n\tmark 10\n\tinfra 0\n"));
        var apply = lab.MicrosegResult("apply");
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        Shell.Ip("-n", guestNs, "-4", "addr", "flush", "dev", web.GuestNic);
        Shell.Ip("-n", guestNs, "neigh", "flush", "dev", web.GuestNic);
        Assert.Null(DhcpClient.Lease(lab.Lab, web, tries: 2));
        Assert.Null(Dhcp6Client.Advertised(lab.Lab, web, tries: 2));
        Shell.Ip("-n", guestNs, "addr", "add", web.Address, "dev", web.GuestNic);
        Shell.Ip("-n", guestNs, "neigh", "flush", "dev", web.GuestNic);
        Assert.False(Resolves(guestNs, web, Gateway), "web resolved its gateway by ARP with infra 0");
        Assert.False(Resolves(guestNs, web, Gateway6), "web resolved its gateway by neighbour discovery with infra 0");
    }

    /// <summary>Pings <paramref name="address"/> once (to start resolution) and reports whether the
    /// guest's neighbour table then holds a link-layer address for it.</summary>
    private static bool Resolves(string guestNs, LabGuest guest, string address)
    {
        Shell.Run("ip", "netns", "exec", guestNs, "ping", "-n", "-q", "-c", "1", "-W", "1", address);
        var neigh = Shell.Ip("-n", guestNs, "neigh", "show", address, "dev", guest.GuestNic);
        return neigh.Contains("lladdr", StringComparison.Ordinal);
    }
}
