// The flow table's edges: full (a small LRU map, sized by the loader as the agent can), and
// the stateful switch off, which must give back the stateless behaviour exactly.
using System.Net;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;
using static Microseg.Bpf.Tests.Kernel.PolicyRig;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyFlowTableTests
{
    [KernelFact]
    public void A_full_table_drops_the_oldest_flows_keeps_recording_new_ones_and_never_bypasses_the_policy()
    {
        const uint size = 64;
        using var rig = new PolicyRig(NicFlags.Stateful, flowsMaxEntries: size);
        Assert.Equal(size, rig.Flows.MaxEntries);
        rig.SetWord(allow: false);
        const ushort allowedSource = 12;
        rig.SetWord(allow: true, src: allowedSource);

        for (int i = 0; i < 1000; i++)
            Assert.Equal(Tcx.Pass, rig.Ingress(TestFrames.UdpPacket(Guest, Peer, (ushort)(10000 + i), 53)));

        int count = rig.Flows.Count();
        Assert.InRange(count, 1, (int)size);
        // The newest flows are there and get their replies; the oldest went.
        for (int i = 990; i < 1000; i++)
            Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, (ushort)(10000 + i))));
        Assert.False(rig.Flows.TryLookup(new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 10000, 53), out _));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 10000)));
        // Whatever the table holds, the policy still decides everything that is no reply.
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 9999)));
        Assert.Equal(Tcx.Drop, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 53, 10995, TcpFlags.Ack)));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.UdpPacket(Peer, Guest, 53, 9999), src: allowedSource));
        // A new flow on a full table is recorded and answered.
        rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 50000, 443, TcpFlags.Syn));
        Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 443, 50000, TcpFlags.Syn | TcpFlags.Ack)));
        Assert.InRange(rig.Flows.Count(), 1, (int)size);
    }

    [KernelFact]
    public void The_default_table_is_preallocated_at_its_documented_size()
    {
        using var rig = new PolicyRig(NicFlags.Stateful);
        Assert.Equal((uint)PolicyAbi.FlowsMaxEntries, rig.Flows.MaxEntries);
        Assert.Equal((uint)PolicyAbi.ServicesMaxEntries, rig.Services.MaxEntries);
    }

    // Audit is no longer a reserved bit: it lets what would be dropped pass (PolicyCounterTests).
    [KernelTheory]
    [InlineData(NicFlags.None)]
    public void Without_the_stateful_and_infra_switches_the_programs_behave_as_the_stateless_ones(NicFlags flags)
    {
        using var rig = new PolicyRig(flags);
        rig.SetWord(allow: false);
        var frames = new[]
        {
            TestFrames.UdpPacket(Guest, Peer, 40000, 53), TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Syn),
            TestFrames.EchoPacket(Guest6, Peer6, request: true, id: 7), TestFrames.RawPacket(Guest, Peer, 47),
        };
        foreach (var frame in frames)
        {
            var run = rig.IngressRun(frame, 0xABCD0000);
            Assert.Equal(Tcx.Pass, run.ReturnValue);
            Assert.Equal(0xABCD0000u | Dst, run.Context!.Value.Mark);
            Assert.Equal(frame, run.Data);
        }
        Assert.Equal(0, rig.Flows.Count()); // nothing recorded

        // A flow recorded while the group was stateful counts no more either.
        rig.WriteFlow(new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 40000, 53), new FlowValue(rig.Now()));
        var denied = new[]
        {
            TestFrames.UdpPacket(Peer, Guest, 53, 40000), TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Syn | TcpFlags.Ack),
            TestFrames.EchoPacket(Peer6, Guest6, request: false, id: 7), TestFrames.ArpRequest(Peer, Guest),
            TestFrames.UdpPacket(Peer, Guest, 67, 68),
            TestFrames.IcmpPacket(Peer, Guest, 3, 3, TestFrames.IpPacketOf(TestFrames.UdpPacket(Guest, Peer, 40000, 53))),
        };
        foreach (var frame in denied)
            Assert.Equal(Tcx.Drop, rig.Egress(frame));
        rig.SetWord(allow: true);
        foreach (var frame in denied)
            Assert.Equal(Tcx.Pass, rig.Egress(frame));
    }
}
