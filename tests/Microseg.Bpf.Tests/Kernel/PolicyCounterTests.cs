// The egress program counts every outcome on the slot its map values name (BPF_PROG_TEST_RUN on
// lo as a guest NIC): the deciding rule's slot from the verdict word or the services entry, the
// group's default-deny, reply and infrastructure slots from nic_info; a NIC that audits passes
// what it would drop; drops and audit passes are records on the events ring, allowed packets
// only when a monitor asks for new flows, and the per-NIC bucket caps them.
using System.Net;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyCounterTests
{
    private const ushort Deny = 1, Reply = 2, Infra = 3, AllowRule = 10, DenyRule = 11, PortRule = 20, OtherRule = 21;
    private const ushort Other = PolicyRig.Src + 1; // a source a rule denies, in the same word
    private static readonly IPAddress Guest = PolicyRig.Guest, Peer = PolicyRig.Peer;

    private static PolicyRig Rig(NicFlags flags = NicFlags.Stateful | NicFlags.Infra)
    {
        var rig = new PolicyRig(flags);
        rig.Nics.Update(PolicyRig.Nic, new NicInfo(PolicyRig.Dst, (ushort)flags, Deny, Reply, Infra));
        var slots = new ushort[64];
        Array.Fill(slots, Deny);
        slots[PolicyRig.Src & 63] = AllowRule;
        slots[Other & 63] = DenyRule;
        rig.Verdicts.Update(PolicyObject.WordOf(PolicyRig.Src, PolicyRig.Dst), new VerdictValue(PolicyObject.BitOf(PolicyRig.Src), 0, slots));
        rig.MonitorConfig.Update(0, new MonitorConfig(PolicyAbi.MonDefaultRate, PolicyAbi.MonDefaultBurst));
        return rig;
    }

    private static byte[] Udp(ushort sport = 40000, ushort dport = 5432) => TestFrames.UdpPacket(Peer, Guest, sport, dport);

    [KernelFact]
    public void Each_outcome_is_counted_on_its_slot_with_its_bytes()
    {
        using var rig = Rig();
        var frame = Udp();
        for (int i = 0; i < 3; i++) Assert.Equal("pass", rig.EgressName(frame));
        for (int i = 0; i < 2; i++) Assert.Equal("drop", rig.EgressName(frame, Other));
        // Source 200: its word is absent, so the group's default deny.
        Assert.Equal("drop", rig.EgressName(frame, 200));
        // A reply: the guest opened the flow.
        Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.UdpPacket(Guest, Peer, 5432, 40000)));
        Assert.Equal("pass", rig.EgressName(frame, Other));
        // Infrastructure traffic from a denied source.
        Assert.Equal("pass", rig.EgressName(TestFrames.ArpRequest(Peer, Guest), Other));

        var bytes = (ulong)frame.Length;
        Assert.Equal(new Counter(3, 3 * bytes), rig.Count(AllowRule));
        Assert.Equal(new Counter(2, 2 * bytes), rig.Count(DenyRule));
        Assert.Equal(new Counter(1, bytes), rig.Count(Deny));
        Assert.Equal(new Counter(1, bytes), rig.Count(Reply));
        Assert.Equal(new Counter(1, (ulong)TestFrames.ArpRequest(Peer, Guest).Length), rig.Count(Infra));
        Assert.Equal(new Counter(0, 0), rig.Count(0));
    }

    [KernelFact]
    public void A_services_entry_counts_on_the_slot_of_the_range_or_of_otherwise()
    {
        using var rig = Rig();
        rig.SetWord(allow: false, service: true);
        rig.Services.Update(new ServiceKey(PolicyRig.Dst, PolicyRig.Src, TestFrames.Udp),
            new ServiceValue(PolicyAbi.ServiceDeny, [(new ServicePort(5432, 5432), PolicyAbi.ServiceAllow)], [PortRule], OtherRule));
        Assert.Equal("pass", rig.EgressName(Udp(dport: 5432)));
        Assert.Equal("drop", rig.EgressName(Udp(dport: 5433)));
        Assert.Equal("drop", rig.EgressName(Udp(dport: 22)));
        Assert.Equal(1UL, rig.Count(PortRule).Packets);
        Assert.Equal(2UL, rig.Count(OtherRule).Packets);
        Assert.Equal(0UL, rig.Count(AllowRule).Packets);
    }

    [KernelFact]
    public void Drops_are_events_with_their_attribution_and_an_audit_nic_passes_them()
    {
        using var rig = Rig();
        using var ring = new RingBufferReader(rig.Events);
        ring.Drain(0);
        Assert.Equal("pass", rig.EgressName(Udp()));
        Assert.Equal("drop", rig.EgressName(Udp(), Other));
        Assert.Equal("drop", rig.EgressName(Udp(), 200));
        var events = ring.Drain().Select(r => MonitorEvent.Read(r)).ToList();
        Assert.Equal(2, events.Count);
        var (rule, byDefault) = (events[0], events[1]);
        Assert.Equal((PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonRule, (uint)DenyRule, Other, PolicyRig.Dst),
            (rule.Verdict, rule.Reason, rule.Slot, rule.Src, rule.Dst));
        Assert.Equal((PolicyRig.Nic, (uint)Udp().Length, PolicyAbi.FlowFamilyIpv4, TestFrames.Udp), (rule.IfIndex, rule.Len, rule.Family, rule.Proto));
        Assert.Equal((Peer, Guest, 40000, 5432), (rule.Source, rule.Destination, (int)rule.SourcePort, (int)rule.DestinationPort));
        Assert.Equal((PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonDefaultDeny, 0u, (ushort)200), (byDefault.Verdict, byDefault.Reason, byDefault.Slot, byDefault.Src));
        Assert.True(byDefault.TimeNs >= rule.TimeNs);

        // Audit: the same packets pass, counted on the same slots, reported as audit.
        rig.Nics.Update(PolicyRig.Nic, new NicInfo(PolicyRig.Dst, (ushort)(NicFlags.Stateful | NicFlags.Infra | NicFlags.Audit), Deny, Reply, Infra));
        Assert.Equal("pass", rig.EgressName(Udp(), Other));
        Assert.Equal("pass", rig.EgressName(Udp(), 200));
        events = [.. ring.Drain().Select(r => MonitorEvent.Read(r))];
        Assert.Equal([(PolicyAbi.MonVerdictAudit, PolicyAbi.MonReasonRule), (PolicyAbi.MonVerdictAudit, PolicyAbi.MonReasonDefaultDeny)],
            events.Select(e => (e.Verdict, e.Reason)));
        Assert.Equal(2UL, rig.Count(DenyRule).Packets);
        Assert.Equal(2UL, rig.Count(Deny).Packets);
    }

    [KernelFact]
    public void New_allowed_flows_are_reported_only_while_asked_and_the_bucket_caps_events()
    {
        using var rig = Rig();
        using var ring = new RingBufferReader(rig.Events);
        ring.Drain(0);
        var syn = TestFrames.TcpPacket(Peer, Guest, 40000, 5432, TcpFlags.Syn);
        var ack = TestFrames.TcpPacket(Peer, Guest, 40000, 5432, TcpFlags.Ack);
        Assert.Equal("pass", rig.EgressName(syn));
        Assert.Empty(ring.Drain(0));
        rig.MonitorConfig.Update(0, new MonitorConfig(PolicyAbi.MonDefaultRate, PolicyAbi.MonDefaultBurst, PolicyAbi.MonFlagFlows));
        Assert.Equal("pass", rig.EgressName(syn));
        Assert.Equal("pass", rig.EgressName(ack));
        Assert.Equal("pass", rig.EgressName(TestFrames.EchoPacket(Peer, Guest, request: true, id: 7)));
        var flows = ring.Drain().Select(r => MonitorEvent.Read(r)).ToList();
        Assert.Equal([(TestFrames.Tcp, 40000), (TestFrames.Icmp, 7)], flows.Select(e => (e.Proto, (int)e.SourcePort)));
        Assert.All(flows, e => Assert.Equal((PolicyAbi.MonVerdictAllow, PolicyAbi.MonReasonRule, (uint)AllowRule), (e.Verdict, e.Reason, e.Slot)));

        // A bucket of 5, refilled at 1 a second: 100 drops in a row give 5 events and 95 lost.
        rig.MonitorConfig.Update(0, new MonitorConfig(1, 5));
        rig.Monitor.Delete(PolicyRig.Nic);
        // (A loop that took a second or more on a loaded machine earned a token per second.)
        var took = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 100; i++) Assert.Equal("drop", rig.EgressName(Udp(), Other));
        int earned = (int)took.Elapsed.TotalSeconds;
        int events = ring.Drain().Count;
        Assert.InRange(events, 5, 5 + earned);
        Assert.True(rig.Monitor.TryLookup(PolicyRig.Nic, out var state));
        Assert.Equal(((ulong)events, 100UL - (ulong)events), (state.Sent, state.Lost));
        // Rate 0: no events, and none counted as lost.
        rig.MonitorConfig.Update(0, new MonitorConfig(0, 5));
        Assert.Equal("drop", rig.EgressName(Udp(), Other));
        Assert.Empty(ring.Drain(0));
        Assert.True(rig.Monitor.TryLookup(PolicyRig.Nic, out state));
        Assert.Equal((5UL, 95UL), (state.Sent, state.Lost));
    }
}
