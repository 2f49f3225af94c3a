// Stateful replies through BPF_PROG_TEST_RUN: the ingress program records the flows a guest
// opens, the egress program lets their replies and related ICMP errors through a verdict that
// denies the peer, ends TCP flows on RST and after both FINs, forgets idle flows, and keeps
// deciding everything else by the policy, when the table is full too.
using System.Net;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;
using static Microseg.Bpf.Tests.Kernel.PolicyRig;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyFlowTests : IDisposable
{
    private const ulong Second = 1_000_000_000;
    private readonly PolicyRig rig = new(NicFlags.Stateful);

    public PolicyFlowTests() => rig.SetWord(allow: false); // the peer may not open anything

    public void Dispose() => rig.Dispose();

    [KernelTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_udp_reply_passes_once_the_guest_sent_the_request(bool v6)
    {
        IPAddress guest = v6 ? Guest6 : Guest, peer = v6 ? Peer6 : Peer;
        var request = TestFrames.UdpPacket(guest, peer, 40000, 53);
        var reply = TestFrames.UdpPacket(peer, guest, 53, 40000);
        Assert.Equal(Tcx.Drop, rig.Egress(reply));

        Assert.Equal(Tcx.Pass, rig.Ingress(request));

        Assert.Equal(Tcx.Pass, rig.Egress(reply));
        Assert.True(rig.Flows.TryLookup(new FlowKey(Nic, guest, peer, TestFrames.Udp, 40000, 53), out _));
        Assert.Equal(1, rig.Flows.Count());
        // Only the reverse of the flow: another port of the peer, another peer, the peer
        // opening its own flow to the guest.
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(peer, guest, 54, 40000)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(peer, guest, 53, 40001)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(v6 ? IPAddress.Parse("fd00::9") : IPAddress.Parse("10.0.0.9"), guest, 53, 40000)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(peer, guest, 40000, 53)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(peer, guest, 53, 40000, TcpFlags.Ack)));
    }

    [KernelFact]
    public void A_tcp_connection_the_guest_opens_gets_its_replies_and_an_unsolicited_ack_does_not_pass()
    {
        var synAck = TestFrames.TcpPacket(Peer, Guest, 5432, 40000, TcpFlags.Syn | TcpFlags.Ack);
        Assert.Equal(Tcx.Drop, rig.Egress(synAck));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 5432, 40000, TcpFlags.Ack)));

        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 5432, TcpFlags.Syn)));

        Assert.Equal(Tcx.Pass, rig.Egress(synAck));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 5432, 40000, TcpFlags.Ack | TcpFlags.Psh)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 5432, 40001, TcpFlags.Ack)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 22, 40000, TcpFlags.Ack)));
    }

    [KernelFact]
    public void A_tcp_flow_is_opened_by_the_guests_syn_only()
    {
        // Mid-stream segments of a connection the table does not know (flushed, expired, open
        // before) and the guest's answer to a connection the peer opened open nothing.
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Ack | TcpFlags.Psh)));
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Ack)));
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 22, 50000, TcpFlags.Syn | TcpFlags.Ack)));
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Fin | TcpFlags.Ack)));

        Assert.Equal(0, rig.Flows.Count());
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Ack)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 50000, 22, TcpFlags.Ack)));

        // Its segments after the SYN neither write nor refresh the entry; the replies do.
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Syn)));
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Tcp, 40000, 80);
        ulong old = rig.Now() - 5 * Second;
        rig.WriteFlow(key, new FlowValue(old));
        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Ack | TcpFlags.Psh));
        Assert.True(rig.Flows.TryLookup(key, out var afterSegment));
        Assert.Equal(old, afterSegment.LastSeen);
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Ack)));
        Assert.True(rig.Flows.TryLookup(key, out var afterReply));
        Assert.True(afterReply.LastSeen > old + Second);
    }

    [KernelFact]
    public void A_flow_recorded_through_extension_headers_is_answered_by_a_plain_reply_and_the_other_way()
    {
        var hopByHop = new IpShape(Ipv6ExtensionHeaders: [0]);
        rig.Ingress(TestFrames.UdpPacket(Guest6, Peer6, 40000, 53, shape: hopByHop));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.UdpPacket(Peer6, Guest6, 53, 40000)));

        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40001, 80, TcpFlags.Syn));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40001, TcpFlags.Ack, new IpShape(Ipv4OptionWords: 2))));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40001, TcpFlags.Ack, new IpShape(FragmentOffset: 0, MoreFragments: true))));
    }

    [KernelTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_echo_reply_passes_for_a_recorded_request_of_the_same_id_only(bool v6)
    {
        IPAddress guest = v6 ? Guest6 : Guest, peer = v6 ? Peer6 : Peer;
        var reply = TestFrames.EchoPacket(peer, guest, request: false, id: 7);
        Assert.Equal(Tcx.Drop, rig.Egress(reply));

        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.EchoPacket(guest, peer, request: true, id: 7)));

        Assert.Equal(Tcx.Pass, rig.Egress(reply));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.EchoPacket(peer, guest, request: false, id: 8)));
        // The peer's own echo request with that id is no reply.
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.EchoPacket(peer, guest, request: true, id: 7)));
        Assert.True(rig.Flows.TryLookup(new FlowKey(Nic, guest, peer, v6 ? TestFrames.Icmpv6 : TestFrames.Icmp, 7, 7), out _));
    }

    [KernelFact]
    public void The_guest_answering_is_not_a_flow_of_its_own()
    {
        // An echo reply, an ICMP error or a neighbour advertisement the guest sends opens nothing.
        rig.Ingress(TestFrames.EchoPacket(Guest, Peer, request: false, id: 7));
        rig.Ingress(TestFrames.IcmpPacket(Guest, Peer, 3, 3, TestFrames.IpPacketOf(TestFrames.UdpPacket(Peer, Guest, 53, 40000))));
        rig.Ingress(TestFrames.IcmpPacket(Guest6, Peer6, 136, 0, new byte[16]));

        Assert.Equal(0, rig.Flows.Count());
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.EchoPacket(Peer, Guest, request: true, id: 7)));
    }

    [KernelFact]
    public void An_icmp_error_about_a_tracked_flow_passes_as_related_and_an_unsolicited_one_does_not()
    {
        var request = TestFrames.UdpPacket(Guest, Peer, 40000, 9999);
        var quoted = TestFrames.IpPacketOf(request);
        var router = IPAddress.Parse("10.0.0.254");
        var portUnreachable = TestFrames.IcmpPacket(Peer, Guest, 3, 3, quoted);
        var timeExceeded = TestFrames.IcmpPacket(router, Guest, 11, 0, quoted[..(20 + 8)]); // RFC 792: IP header + 8 bytes
        Assert.Equal(Tcx.Drop, rig.Egress(portUnreachable));
        Assert.Equal(Tcx.Drop, rig.Egress(timeExceeded));

        rig.Ingress(request);

        Assert.Equal(Tcx.Pass, rig.Egress(portUnreachable));
        Assert.Equal(Tcx.Pass, rig.Egress(timeExceeded));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.IcmpPacket(router, Guest, 3, 4, quoted, rest: 1400))); // fragmentation needed
        // Not about that flow: another port, the tuple turned round, another protocol.
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 3, 3, TestFrames.IpPacketOf(TestFrames.UdpPacket(Guest, Peer, 40000, 9998)))));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 3, 3, TestFrames.IpPacketOf(TestFrames.UdpPacket(Peer, Guest, 9999, 40000)))));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 3, 3, TestFrames.IpPacketOf(TestFrames.TcpPacket(Guest, Peer, 40000, 9999, TcpFlags.Syn)))));
        // Types that are no error about a flow (parameter problem, redirect, timestamp) do not pass.
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 12, 0, quoted)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 5, 0, quoted)));
        // An error quoting only 4 bytes of the transport header still has the ports.
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 3, 3, quoted[..(20 + 4)])));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(Peer, Guest, 3, 3, quoted[..(20 + 3)])));
    }

    [KernelFact]
    public void An_icmpv6_packet_too_big_about_a_tracked_tcp_flow_passes_and_about_another_does_not()
    {
        var segment = TestFrames.TcpPacket(Guest6, Peer6, 40000, 443, TcpFlags.Ack | TcpFlags.Psh);
        var router = IPAddress.Parse("fd00::fe");
        var tooBig = TestFrames.IcmpPacket(router, Guest6, 2, 0, TestFrames.IpPacketOf(segment), rest: 1280);
        var other = TestFrames.IcmpPacket(router, Guest6, 2, 0, TestFrames.IpPacketOf(TestFrames.TcpPacket(Guest6, Peer6, 40000, 444, TcpFlags.Ack)), rest: 1280);
        Assert.Equal(Tcx.Drop, rig.Egress(tooBig));

        rig.Ingress(TestFrames.TcpPacket(Guest6, Peer6, 40000, 443, TcpFlags.Syn));
        rig.Ingress(segment);

        Assert.Equal(Tcx.Pass, rig.Egress(tooBig));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.IcmpPacket(router, Guest6, 1, 4, TestFrames.IpPacketOf(segment)))); // port unreachable
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.IcmpPacket(router, Guest6, 3, 0, TestFrames.IpPacketOf(segment)))); // time exceeded
        Assert.Equal(Tcx.Drop, rig.Egress(other));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(router, Guest6, 4, 0, TestFrames.IpPacketOf(segment)))); // parameter problem
        // A quoted IPv4 packet in an ICMPv6 error is nobody's flow.
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.IcmpPacket(router, Guest6, 2, 0, TestFrames.IpPacketOf(TestFrames.TcpPacket(Guest, Peer, 40000, 443, TcpFlags.Ack)))));
    }

    [KernelFact]
    public void An_echo_request_the_guest_sent_makes_errors_about_it_related()
    {
        var echo = TestFrames.EchoPacket(Guest, Peer, request: true, id: 99);
        var error = TestFrames.IcmpPacket(IPAddress.Parse("10.0.0.254"), Guest, 11, 0, TestFrames.IpPacketOf(echo)[..(20 + 8)]);
        Assert.Equal(Tcx.Drop, rig.Egress(error));
        rig.Ingress(echo);
        Assert.Equal(Tcx.Pass, rig.Egress(error));
    }

    [KernelFact]
    public void A_flow_counts_on_the_nic_it_left_through_only()
    {
        ulong now = rig.Now();
        rig.WriteFlow(new FlowKey(999, Guest, Peer, TestFrames.Udp, 40000, 53), new FlowValue(now));

        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 40000)));

        rig.WriteFlow(new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 40000, 53), new FlowValue(now));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 40000)));
    }

    [KernelFact]
    public void A_reset_from_the_peer_passes_and_ends_the_flow()
    {
        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Syn));
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Tcp, 40000, 80);

        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Rst | TcpFlags.Ack)));

        Assert.False(rig.Flows.TryLookup(key, out _));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Ack)));
    }

    [KernelFact]
    public void A_reset_from_the_guest_ends_the_flow_and_opens_none()
    {
        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Syn));
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Rst)));
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40001, 80, TcpFlags.Rst | TcpFlags.Ack)));

        Assert.Equal(0, rig.Flows.Count());
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Ack)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40001, TcpFlags.Ack)));
    }

    [KernelFact]
    public void After_a_fin_each_way_the_flow_lives_only_the_closing_timeout()
    {
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Tcp, 40000, 80);
        var lastAck = TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Ack);
        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Syn));
        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Fin | TcpFlags.Ack));
        Assert.True(rig.Flows.TryLookup(key, out var afterGuestFin));
        Assert.Equal(FlowFlags.FinOut, afterGuestFin.Flags);

        // One FIN: an entry idle for longer than the closing timeout still lives.
        ulong closing = (ulong)PolicyAbi.FlowTimeoutTcpClosingSeconds * Second;
        rig.WriteFlow(key, new FlowValue(rig.Now() - closing - 2 * Second, FlowFlags.FinOut));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Fin | TcpFlags.Ack)));
        Assert.True(rig.Flows.TryLookup(key, out var afterBoth));
        Assert.Equal(FlowFlags.FinOut | FlowFlags.FinIn, afterBoth.Flags);

        // Both FINs: the last ACK passes while the entry is fresh ...
        Assert.Equal(Tcx.Pass, rig.Egress(lastAck));
        // ... and not once it was idle for the closing timeout.
        rig.WriteFlow(key, new FlowValue(rig.Now() - closing - 2 * Second, FlowFlags.FinOut | FlowFlags.FinIn));
        Assert.Equal(Tcx.Drop, rig.Egress(lastAck));
        Assert.False(rig.Flows.TryLookup(key, out _));
    }

    [KernelFact]
    public void A_new_syn_on_the_tuple_of_a_closing_flow_starts_it_afresh()
    {
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Tcp, 40000, 80);
        rig.WriteFlow(key, new FlowValue(rig.Now(), FlowFlags.FinOut | FlowFlags.FinIn));

        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Syn));

        Assert.True(rig.Flows.TryLookup(key, out var value));
        Assert.Equal(FlowFlags.None, value.Flags);
    }

    [KernelFact]
    public void An_idle_flow_expires_after_its_timeout_and_is_deleted()
    {
        var udp = new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 40000, 53);
        var tcp = new FlowKey(Nic, Guest, Peer, TestFrames.Tcp, 40000, 80);
        var udpReply = TestFrames.UdpPacket(Peer, Guest, 53, 40000);
        var tcpReply = TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Ack);
        ulong other = (ulong)PolicyAbi.FlowTimeoutOtherSeconds * Second;
        ulong now = rig.Now();

        rig.WriteFlow(udp, new FlowValue(now - other + 10 * Second));
        Assert.Equal(Tcx.Pass, rig.Egress(udpReply));
        Assert.True(rig.Flows.TryLookup(udp, out var refreshed));
        Assert.True(refreshed.LastSeen >= now, "a reply refreshes an entry idle for more than a second");

        rig.WriteFlow(udp, new FlowValue(now - other - 2 * Second));
        Assert.Equal(Tcx.Drop, rig.Egress(udpReply));
        Assert.False(rig.Flows.TryLookup(udp, out _));

        // TCP lives longer than the other protocols.
        rig.WriteFlow(tcp, new FlowValue(now - other - 2 * Second));
        Assert.Equal(Tcx.Pass, rig.Egress(tcpReply));
        ulong tcpTimeout = (ulong)PolicyAbi.FlowTimeoutTcpSeconds * Second;
        if (now > tcpTimeout + 2 * Second) // the clock starts at boot: only a host up for longer can hold an entry that old
        {
            rig.WriteFlow(tcp, new FlowValue(now - tcpTimeout - 2 * Second));
            Assert.Equal(Tcx.Drop, rig.Egress(tcpReply));
            Assert.False(rig.Flows.TryLookup(tcp, out _));
        }
    }

    [KernelFact]
    public void The_guest_sending_again_on_an_expired_flow_records_it_afresh()
    {
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 40000, 53);
        ulong now = rig.Now();
        rig.WriteFlow(key, new FlowValue(now - (ulong)PolicyAbi.FlowTimeoutOtherSeconds * Second - 2 * Second));

        rig.Ingress(TestFrames.UdpPacket(Guest, Peer, 40000, 53));

        Assert.True(rig.Flows.TryLookup(key, out var value));
        Assert.True(value.LastSeen >= now);
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 40000)));
    }

    [KernelFact]
    public void A_busy_flow_is_rewritten_at_most_once_a_second()
    {
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 40000, 53);
        var request = TestFrames.UdpPacket(Guest, Peer, 40000, 53);
        var reply = TestFrames.UdpPacket(Peer, Guest, 53, 40000);
        ulong recent = rig.Now() - Second / 10; // due for a refresh only 0.9 s from now
        rig.WriteFlow(key, new FlowValue(recent));

        rig.Ingress(request);
        Assert.Equal(Tcx.Pass, rig.Egress(reply));

        Assert.True(rig.Flows.TryLookup(key, out var untouched));
        Assert.Equal(recent, untouched.LastSeen);

        ulong older = rig.Now() - 2 * Second;
        rig.WriteFlow(key, new FlowValue(older));
        rig.Ingress(request);
        Assert.True(rig.Flows.TryLookup(key, out var refreshed));
        Assert.True(refreshed.LastSeen > older + Second);
    }

    [KernelFact]
    public void An_allowed_packet_does_not_look_at_the_flows()
    {
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Tcp, 40000, 80);
        ulong old = rig.Now() - 5 * Second;
        rig.WriteFlow(key, new FlowValue(old));
        rig.SetWord(allow: true);

        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Rst)));

        Assert.True(rig.Flows.TryLookup(key, out var value)); // a denied RST would have deleted it
        Assert.Equal(old, value.LastSeen);
    }

    [KernelFact]
    public void A_later_fragment_of_a_reply_has_no_ports_and_is_no_reply()
    {
        rig.Ingress(TestFrames.UdpPacket(Guest, Peer, 40000, 53));

        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 40000, shape: new IpShape(FragmentOffset: 0, MoreFragments: true))));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 40000, shape: new IpShape(FragmentOffset: 185))));
    }

    [KernelFact]
    public void A_protocol_without_ports_is_tracked_by_its_addresses()
    {
        rig.Ingress(TestFrames.RawPacket(Guest, Peer, 47)); // GRE

        Assert.True(rig.Flows.TryLookup(new FlowKey(Nic, Guest, Peer, 47, 0, 0), out _));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.RawPacket(Peer, Guest, 47)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.RawPacket(Peer, Guest, 50)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.RawPacket(IPAddress.Parse("10.0.0.9"), Guest, 47)));
    }

    [KernelFact]
    public void Ingress_of_a_stateful_nic_stamps_the_mark_as_before()
    {
        var run = rig.IngressRun(TestFrames.UdpPacket(Guest, Peer, 1, 2), 0xABCD0000);
        Assert.Equal(Tcx.Pass, run.ReturnValue);
        Assert.Equal(0xABCD0000u | Dst, run.Context!.Value.Mark);
        Assert.Equal(1, rig.Flows.Count());
    }
}
