// The egress program's service (L4) decisions through BPF_PROG_TEST_RUN: a pair's verdict word,
// its services entries per protocol, port ranges and their edges, the fallback to the word for
// protocols without an entry, fragments after the first and headers the program cannot see
// through. The NIC is stateless and without the infrastructure exception here, so that only
// the verdict and the services decide.
using System.Net;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;
using static Microseg.Bpf.Tests.Kernel.PolicyRig;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyServiceTests : IDisposable
{
    private readonly PolicyRig rig = new(NicFlags.None);

    public void Dispose() => rig.Dispose();

    private static byte[] Tcp(ushort dport, IpShape? shape = null) => TestFrames.TcpPacket(Peer, Guest, 40000, dport, TcpFlags.Syn, shape);
    private static byte[] Tcp6(ushort dport, IpShape? shape = null) => TestFrames.TcpPacket(Peer6, Guest6, 40000, dport, TcpFlags.Syn, shape);
    private static byte[] Udp(ushort dport) => TestFrames.UdpPacket(Peer, Guest, 40000, dport);

    [KernelTheory]
    [InlineData(true, Tcx.Pass)]
    [InlineData(false, Tcx.Drop)]
    public void A_pair_without_service_rules_is_decided_by_its_bit_and_the_services_map_is_not_read(bool allow, int expected)
    {
        rig.SetWord(allow, service: false);
        // Entries that would decide the other way, were they consulted.
        rig.SetService(TestFrames.Tcp, otherwise: !allow);
        rig.SetService(TestFrames.Udp, otherwise: !allow);

        Assert.Equal(expected, rig.Egress(Tcp(5432)));
        Assert.Equal(expected, rig.Egress(Udp(53)));
        Assert.Equal(expected, rig.Egress(TestFrames.ArpRequest(Peer, Guest)));
    }

    [KernelFact]
    public void A_port_rule_allows_its_port_and_the_rest_of_the_protocol_gets_otherwise()
    {
        // web -> db allow tcp/5432, web -> db deny.
        rig.SetWord(allow: false, service: true);
        rig.SetService(TestFrames.Tcp, otherwise: false, (5432, 5432, true));

        Assert.Equal(Tcx.Pass, rig.Egress(Tcp(5432)));
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp(22)));
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp(5431)));
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp(5433)));
        Assert.Equal(Tcx.Drop, rig.Egress(Udp(5432)));   // no udp entry: the word's bit (deny)
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp6(5432)));  // IPv6 alike
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp6(22)));
        // Another source of the same word has no service rules: its allow bit alone decides.
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp(22), src: Src + 1));
    }

    [KernelTheory]
    [InlineData(1, "drop")]
    [InlineData(79, "drop")]
    [InlineData(80, "pass")]
    [InlineData(81, "drop")]
    [InlineData(7999, "drop")]
    [InlineData(8000, "pass")]
    [InlineData(8040, "pass")]
    [InlineData(8080, "pass")]
    [InlineData(8081, "drop")]
    [InlineData(8443, "drop")]
    [InlineData(9000, "drop")]
    [InlineData(65534, "drop")]
    [InlineData(65535, "pass")]
    public void Port_ranges_include_both_edges_and_nothing_beyond(int port, string expected)
    {
        rig.SetWord(allow: false, service: true);
        rig.SetService(TestFrames.Tcp, otherwise: false, (80, 80, true), (8000, 8080, true), (8443, 8443, false), (65535, 65535, true));

        Assert.Equal(expected, rig.EgressName(Tcp((ushort)port)));
    }

    [KernelFact]
    public void Every_one_of_sixteen_ranges_is_reached_and_a_deny_range_cuts_an_allowing_otherwise()
    {
        rig.SetWord(allow: false, service: true);
        var ranges = Enumerable.Range(0, PolicyAbi.ServiceMaxPorts)
            .Select(i => ((ushort)(1000 + i * 100), (ushort)(1000 + i * 100 + 9), i % 2 == 0)).ToArray();
        rig.SetService(TestFrames.Udp, otherwise: true, ranges);

        for (int i = 0; i < PolicyAbi.ServiceMaxPorts; i++)
        {
            string inRange = i % 2 == 0 ? "pass" : "drop";
            Assert.Equal(inRange, rig.EgressName(Udp((ushort)(1000 + i * 100))));
            Assert.Equal(inRange, rig.EgressName(Udp((ushort)(1000 + i * 100 + 9))));
            Assert.Equal("pass", rig.EgressName(Udp((ushort)(1000 + i * 100 + 10)))); // otherwise
        }
        Assert.Equal("pass", rig.EgressName(Udp(999)));
        Assert.Equal("pass", rig.EgressName(Udp(60000)));
    }

    [KernelFact]
    public void Random_range_lists_of_every_length_decide_every_port_as_a_linear_scan_does()
    {
        rig.SetWord(allow: false, service: true);
        var rng = new Random(5432);
        var wrong = new List<string>();
        for (int entry = 0; entry < 60; entry++)
        {
            int count = entry % (PolicyAbi.ServiceMaxPorts + 1);
            var bounds = Enumerable.Range(0, 2 * count).Select(_ => rng.Next(1, 65536)).Distinct().Order().ToList();
            while (bounds.Count < 2 * count) bounds = Enumerable.Range(0, 2 * count).Select(_ => rng.Next(1, 65536)).Distinct().Order().ToList();
            // Some ranges are one port wide (lo == hi).
            var ranges = Enumerable.Range(0, count)
                .Select(i => ((ushort)bounds[2 * i], (ushort)(rng.Next(4) == 0 ? bounds[2 * i] : bounds[2 * i + 1]), rng.Next(2) == 0)).ToArray();
            bool otherwise = rng.Next(2) == 0;
            rig.SetService(TestFrames.Tcp, otherwise, ranges);
            var ports = new List<int> { 0, 1, 65535 };
            foreach (var (lo, hi, _) in ranges) ports.AddRange([lo - 1, lo, lo + 1, hi - 1, hi, hi + 1]);
            for (int i = 0; i < 10; i++) ports.Add(rng.Next(65536));
            foreach (int port in ports.Where(p => p is >= 0 and <= 65535).Distinct())
            {
                bool expected = otherwise;
                foreach (var (lo, hi, allow) in ranges)
                    if (port >= lo && port <= hi) expected = allow;
                string got = rig.EgressName(Tcp((ushort)port));
                if (got != (expected ? "pass" : "drop"))
                    wrong.Add($"{count} ranges [{string.Join(", ", ranges.Select(r => $"{r.Item1}-{r.Item2}:{(r.Item3 ? "allow" : "deny")}"))}] otherwise {(otherwise ? "allow" : "deny")}: port {port} got {got}");
            }
        }
        Assert.True(wrong.Count == 0, $"{wrong.Count} wrong, first: {string.Join("; ", wrong.Take(3))}");
    }

    [KernelTheory]
    [InlineData(true, Tcx.Pass)]
    [InlineData(false, Tcx.Drop)]
    public void A_protocol_only_rule_decides_every_packet_of_its_protocol(bool otherwise, int expected)
    {
        rig.SetWord(allow: !otherwise, service: true);
        rig.SetService(TestFrames.Udp, otherwise);
        rig.SetService(TestFrames.Icmp, otherwise);
        rig.SetService(TestFrames.Sctp, otherwise);

        Assert.Equal(expected, rig.Egress(Udp(1)));
        Assert.Equal(expected, rig.Egress(Udp(65535)));
        Assert.Equal(expected, rig.Egress(TestFrames.EchoPacket(Peer, Guest, request: true, id: 7)));
        Assert.Equal(expected, rig.Egress(TestFrames.SctpPacket(Peer, Guest, 1, 2)));
        // tcp has no entry: the word's bit, the other way.
        Assert.Equal(otherwise ? Tcx.Drop : Tcx.Pass, rig.Egress(Tcp(80)));
    }

    [KernelTheory]
    [InlineData(true, Tcx.Pass)]
    [InlineData(false, Tcx.Drop)]
    public void A_protocol_without_an_entry_and_non_ip_frames_follow_the_words_allow_bit(bool allow, int expected)
    {
        rig.SetWord(allow, service: true);
        rig.SetService(TestFrames.Tcp, otherwise: !allow, (22, 22, !allow));

        Assert.Equal(expected, rig.Egress(Udp(22)));
        Assert.Equal(expected, rig.Egress(TestFrames.EchoPacket(Peer, Guest, request: true, id: 1)));
        Assert.Equal(expected, rig.Egress(TestFrames.EchoPacket(Peer6, Guest6, request: true, id: 1)));
        Assert.Equal(expected, rig.Egress(TestFrames.RawPacket(Peer, Guest, 47))); // GRE
        Assert.Equal(expected, rig.Egress(TestFrames.ArpRequest(Peer, Guest)));
        Assert.Equal(allow ? Tcx.Drop : Tcx.Pass, rig.Egress(Tcp(22)));
    }

    [KernelFact]
    public void Icmp_and_icmpv6_are_separate_protocols()
    {
        rig.SetWord(allow: false, service: true);
        rig.SetService(TestFrames.Icmpv6, otherwise: true);

        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.EchoPacket(Peer6, Guest6, request: true, id: 1)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.EchoPacket(Peer, Guest, request: true, id: 1)));
    }

    [KernelFact]
    public void A_fragment_after_the_first_has_no_port_and_gets_otherwise()
    {
        rig.SetWord(allow: false, service: true);
        rig.SetService(TestFrames.Tcp, otherwise: false, (5432, 5432, true));
        // The bytes after the IP header read as port 5432, but in a later fragment they are data.
        var later = new IpShape(FragmentOffset: 3);
        var first = new IpShape(FragmentOffset: 0, MoreFragments: true);
        var later6 = new IpShape(FragmentOffset: 3, Ipv6ExtensionHeaders: [0]);
        var first6 = new IpShape(FragmentOffset: 0, MoreFragments: true);

        Assert.Equal(Tcx.Drop, rig.Egress(Tcp(5432, later)));
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp6(5432, later6)));
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp(5432, first)));   // the first fragment has the port
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp6(5432, first6)));

        rig.SetService(TestFrames.Tcp, otherwise: true, (22, 22, false));
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp(22, later)));      // no port: otherwise, even if the bytes say 22
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp(22, first)));
    }

    [KernelFact]
    public void The_port_is_found_behind_ipv4_options_and_ipv6_extension_headers()
    {
        rig.SetWord(allow: false, service: true);
        rig.SetService(TestFrames.Tcp, otherwise: false, (443, 443, true));

        Assert.Equal(Tcx.Pass, rig.Egress(Tcp(443, new IpShape(Ipv4OptionWords: 10)))); // IHL 15
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp(444, new IpShape(Ipv4OptionWords: 10))));
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp6(443, new IpShape(Ipv6ExtensionHeaders: [0, 60, 43, 51]))));
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp6(444, new IpShape(Ipv6ExtensionHeaders: [0, 60, 43, 51]))));
    }

    [KernelFact]
    public void A_packet_whose_transport_header_is_out_of_reach_is_denied_by_a_pair_with_service_rules()
    {
        // Allowing otherwise, denying port 22: hiding the port must not reach "otherwise".
        rig.SetWord(allow: true, service: true);
        rig.SetService(TestFrames.Tcp, otherwise: true, (22, 22, false));
        byte[] nine = [60, 60, 60, 60, 60, 60, 60, 60, 60];

        Assert.Equal(Tcx.Drop, rig.Egress(Tcp6(22, new IpShape(Ipv6ExtensionHeaders: nine))));
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp6(80, new IpShape(Ipv6ExtensionHeaders: nine))));
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp6(80, new IpShape(Ipv6ExtensionHeaders: nine[..7]))));
        Assert.Equal(Tcx.Drop, rig.Egress(Tcp6(22, new IpShape(Ipv6ExtensionHeaders: nine[..7]))));
    }

    [KernelFact]
    public void A_truncated_transport_header_has_no_port()
    {
        rig.SetWord(allow: false, service: true);
        rig.SetService(TestFrames.Udp, otherwise: false, (53, 53, true));
        var frame = Udp(53)[..(14 + 20 + 3)]; // 3 bytes of UDP header

        Assert.Equal(Tcx.Drop, rig.Egress(frame));
        rig.SetService(TestFrames.Udp, otherwise: true, (53, 53, false));
        Assert.Equal(Tcx.Pass, rig.Egress(frame));
    }

    [KernelFact]
    public void The_services_entry_is_per_source_mark_and_destination()
    {
        rig.SetWord(allow: false, service: true);
        rig.SetWord(allow: false, service: true, src: Src + 1);
        rig.Services.Update(new ServiceKey(Dst, Src + 1, TestFrames.Tcp), new ServiceValue(PolicyAbi.ServiceAllow, []));
        rig.Services.Update(new ServiceKey(Dst + 1, Src, TestFrames.Tcp), new ServiceValue(PolicyAbi.ServiceAllow, []));

        Assert.Equal(Tcx.Drop, rig.Egress(Tcp(80)));
        Assert.Equal(Tcx.Pass, rig.Egress(Tcp(80), src: Src + 1));
    }
}
