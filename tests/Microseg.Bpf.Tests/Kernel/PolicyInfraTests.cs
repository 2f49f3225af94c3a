// Infrastructure traffic to a guest whose verdict denies its sender: ARP, neighbour and router
// discovery, DHCPv4 and DHCPv6 pass when the NIC's group has the infra switch, and only those.
using System.Net;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;
using static Microseg.Bpf.Tests.Kernel.PolicyRig;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyInfraTests : IDisposable
{
    private readonly PolicyRig rig = new(NicFlags.Infra);

    public PolicyInfraTests() => rig.SetWord(allow: false);

    public void Dispose() => rig.Dispose();

    public static TheoryData<string> Kinds => new(InfraFrames.Keys);

    private static readonly Dictionary<string, byte[]> InfraFrames = new()
    {
        ["arp request"] = TestFrames.ArpRequest(Peer, Guest),
        ["icmpv6 133 router solicitation"] = Nd(133),
        ["icmpv6 134 router advertisement"] = Nd(134),
        ["icmpv6 135 neighbour solicitation"] = Nd(135),
        ["icmpv6 136 neighbour advertisement"] = Nd(136),
        ["icmpv6 137 redirect"] = Nd(137),
        ["dhcpv4 server 67 -> client 68"] = TestFrames.UdpPacket(Peer, Guest, 67, 68),
        ["dhcpv4 client 68 -> server 67"] = TestFrames.UdpPacket(Peer, Guest, 68, 67),
        ["dhcpv6 server 547 -> client 546"] = TestFrames.UdpPacket(Peer6, Guest6, 547, 546),
        ["dhcpv6 client 546 -> server 547"] = TestFrames.UdpPacket(Peer6, Guest6, 546, 547),
    };

    private static byte[] Nd(byte type) => TestFrames.IcmpPacket(Peer6, Guest6, type, 0, new byte[16]);

    [KernelTheory]
    [MemberData(nameof(Kinds))]
    public void Infrastructure_traffic_passes_a_denying_verdict_with_the_switch_on_and_not_without(string kind)
    {
        var frame = InfraFrames[kind];
        Assert.Equal(Tcx.Pass, rig.Egress(frame));

        rig.SetFlags(NicFlags.None);
        Assert.Equal(Tcx.Drop, rig.Egress(frame));
        rig.SetFlags(NicFlags.Stateful); // the other switch does not stand in for it
        Assert.Equal(Tcx.Drop, rig.Egress(frame));
    }

    [KernelTheory]
    [MemberData(nameof(Kinds))]
    public void Infrastructure_traffic_passes_a_pair_whose_service_rules_deny_it(string kind)
    {
        rig.SetWord(allow: false, service: true);
        rig.SetService(TestFrames.Udp, otherwise: false);
        rig.SetService(TestFrames.Icmpv6, otherwise: false);

        Assert.Equal(Tcx.Pass, rig.Egress(InfraFrames[kind]));
    }

    [KernelFact]
    public void Traffic_that_only_looks_like_infrastructure_is_dropped()
    {
        Assert.Equal(Tcx.Drop, rig.Egress(Nd(132)));   // multicast listener done
        Assert.Equal(Tcx.Drop, rig.Egress(Nd(138)));   // router renumbering
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.EchoPacket(Peer6, Guest6, request: true, id: 1)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 135, 0, new byte[16]))); // ICMPv4 type 135
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 67, 67)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 68)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 547, 546)));   // DHCPv6 ports over IPv4
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer6, Guest6, 67, 68)));   // DHCPv4 ports over IPv6
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 67, 68, TcpFlags.Syn)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 67, 68)[..(14 + 20 + 2)])); // no ports
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.Ethernet(0x8035, new byte[28])));     // RARP
        // A later fragment carries no ports, whatever its bytes say.
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 67, 68, shape: new IpShape(FragmentOffset: 2))));
    }

    [KernelFact]
    public void An_unknown_nic_gets_no_infrastructure_traffic_either()
    {
        rig.Nics.Delete(Nic);
        Assert.Equal(Tcx.Drop, rig.Egress(InfraFrames["arp request"]));
    }
}
