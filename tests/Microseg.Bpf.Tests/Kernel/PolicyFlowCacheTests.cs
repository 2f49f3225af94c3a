// The per-CPU last-flow cache (flow_cache, voided through flow_epoch) must never be seen: a
// packet of the flow a CPU found live moments ago skips the table, yet a flow deleted by user
// space, ended by a RST or evicted from a full table stops counting at the very next packet,
// and a flow flushed while the guest keeps sending is recorded again by its next datagram.
// Each case runs many times in a row, so that the replies just before the change were cache
// hits on this CPU (the cache lasts at most FLOW_CACHE_JIFFIES, a few milliseconds).
using System.Net;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;
using static Microseg.Bpf.Tests.Kernel.PolicyRig;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyFlowCacheTests : IDisposable
{
    private const int Rounds = 200;
    private readonly PolicyRig rig = new(NicFlags.Stateful);

    public PolicyFlowCacheTests() => rig.SetWord(allow: false); // only replies pass

    public void Dispose() => rig.Dispose();

    [KernelTheory]
    [InlineData(TestFrames.Udp)]
    [InlineData(TestFrames.Tcp)]
    public void Replies_stop_at_once_when_user_space_deletes_the_flow(byte proto)
    {
        for (int i = 0; i < Rounds; i++)
        {
            ushort port = (ushort)(40000 + i % 4); // the same few tuples again and again
            var key = new FlowKey(Nic, Guest, Peer, proto, port, 53);
            var reply = proto == TestFrames.Udp ? TestFrames.UdpPacket(Peer, Guest, 53, port) : TestFrames.TcpPacket(Peer, Guest, 53, port, TcpFlags.Ack);
            rig.Ingress(proto == TestFrames.Udp ? TestFrames.UdpPacket(Guest, Peer, port, 53) : TestFrames.TcpPacket(Guest, Peer, port, 53, TcpFlags.Syn));
            for (int r = 0; r < 3; r++)
                Assert.Equal(Tcx.Pass, rig.Egress(reply));

            Assert.True(rig.DeleteFlow(key), $"round {i}: the flow was recorded");

            Assert.Equal(Tcx.Drop, rig.Egress(reply));
        }
    }

    [KernelTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Replies_stop_at_once_after_a_reset_either_way(bool fromGuest)
    {
        var ack = TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Ack);
        for (int i = 0; i < Rounds; i++)
        {
            rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Syn));
            for (int r = 0; r < 3; r++)
                Assert.Equal(Tcx.Pass, rig.Egress(ack));

            if (fromGuest)
                rig.Ingress(TestFrames.TcpPacket(Guest, Peer, 40000, 80, TcpFlags.Rst));
            else
                Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.TcpPacket(Peer, Guest, 80, 40000, TcpFlags.Rst | TcpFlags.Ack)));

            Assert.Equal(Tcx.Drop, rig.Egress(ack));
        }
    }

    [KernelTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_flow_evicted_from_a_full_table_stops_counting_at_once(bool replies)
    {
        // The flow is cached by one program (its replies at egress, or its datagrams at ingress);
        // then new flows, each used twice by the other program (so the LRU sees them used and
        // evicts the idle one), until the LRU evicted it. Its very next packet must see that.
        const uint size = 64;
        using var small = new PolicyRig(NicFlags.Stateful, flowsMaxEntries: size);
        small.SetWord(allow: false);
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 40000, 53);
        var request = TestFrames.UdpPacket(Guest, Peer, 40000, 53);
        var reply = TestFrames.UdpPacket(Peer, Guest, 53, 40000);
        int next = 0;
        for (int i = 0; i < 20; i++)
        {
            small.Ingress(request);
            for (int r = 0; r < 3; r++)
            {
                if (replies) Assert.Equal(Tcx.Pass, small.Egress(reply));
                else small.Ingress(request);
            }

            int added = 0;
            while (small.Flows.TryLookup(key, out _))
            {
                Assert.True(++added < 100 * (int)size, $"round {i}: the LRU never evicted the flow");
                ushort port = (ushort)(10000 + next++ % 20000);
                small.Ingress(TestFrames.UdpPacket(Guest, Peer, port, 53));
                if (replies) small.Ingress(TestFrames.UdpPacket(Guest, Peer, port, 53));
                else small.Egress(TestFrames.UdpPacket(Peer, Guest, 53, port));
            }

            if (replies)
            {
                Assert.Equal(Tcx.Drop, small.Egress(reply));
            }
            else
            {
                small.Ingress(request);
                Assert.True(small.Flows.TryLookup(key, out _), $"round {i}: the datagram after the eviction recorded its flow again");
            }
        }
    }

    [KernelTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_flushed_flow_is_recorded_again_by_the_guests_next_datagram(bool v6)
    {
        IPAddress guest = v6 ? Guest6 : Guest, peer = v6 ? Peer6 : Peer;
        var request = TestFrames.UdpPacket(guest, peer, 40000, 53);
        var key = new FlowKey(Nic, guest, peer, TestFrames.Udp, 40000, 53);
        for (int i = 0; i < Rounds; i++)
        {
            for (int r = 0; r < 3; r++)
                rig.Ingress(request);
            Assert.True(rig.DeleteFlow(key), $"round {i}: the flow was recorded");

            rig.Ingress(request);

            Assert.True(rig.Flows.TryLookup(key, out _), $"round {i}: the datagram after the flush recorded its flow again");
            Assert.Equal(Tcx.Pass, rig.Egress(TestFrames.UdpPacket(peer, guest, 53, 40000)));
        }
    }

    [KernelFact]
    public void A_busy_flow_is_still_refreshed_while_its_packets_skip_the_table()
    {
        // Packets for longer than a second: the entry's last_seen keeps up (the cache lasts a
        // few jiffies, then one packet refreshes the entry again).
        var key = new FlowKey(Nic, Guest, Peer, TestFrames.Udp, 40000, 53);
        var request = TestFrames.UdpPacket(Guest, Peer, 40000, 53);
        var reply = TestFrames.UdpPacket(Peer, Guest, 53, 40000);
        rig.Ingress(request);
        Assert.True(rig.Flows.TryLookup(key, out var first));
        var until = DateTime.UtcNow.AddSeconds(2.5);
        while (DateTime.UtcNow < until)
        {
            rig.Ingress(request);
            Assert.Equal(Tcx.Pass, rig.Egress(reply));
        }
        Assert.True(rig.Flows.TryLookup(key, out var last));
        Assert.True(last.LastSeen >= first.LastSeen + 1_000_000_000UL, $"last_seen moved from {first.LastSeen} to {last.LastSeen} in 2.5 s of packets");
    }
}
