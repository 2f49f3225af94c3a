// forwarder_physical and forwarder_router on real frames in the kernel (BPF_PROG_TEST_RUN, with
// ctx->ingress_ifindex naming veths of the test's namespace): the tag pushed and popped, the
// redirect decided through the devmaps, and everything malformed or unknown dropped. Live
// frames mode carries the redirect out for real.
using System.Text.Json;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class ForwarderProgramTests : IDisposable
{
    private readonly ForwarderRig rig = new();
    private readonly byte[] frame = Frames.Guest1ToGuest2();

    public void Dispose() => rig.Dispose();

    [KernelFact]
    public void A_physical_frame_is_tagged_with_its_interfaces_vlan_and_redirected_to_the_router()
    {
        foreach (var p in new[] { rig.P1, rig.P2 })
        {
            var result = rig.Run(rig.Physical, frame, p);
            Assert.Equal(Xdp.Redirect, result.ReturnValue);
            Assert.Equal(Xdp.Tagged(frame, p), result.Data);
        }
    }

    [KernelFact]
    public void A_frame_from_an_unregistered_interface_is_dropped()
    {
        Assert.True(rig.Ports.Delete((uint)rig.P2));
        Assert.Equal(Xdp.Drop, rig.Run(rig.Physical, frame, rig.P2).ReturnValue);
        Assert.Equal(Xdp.Drop, rig.Run(rig.Physical, frame, 1 /* lo */).ReturnValue);
        Assert.Equal(Xdp.Redirect, rig.Run(rig.Physical, frame, rig.P1).ReturnValue);
    }

    [KernelFact]
    public void A_physical_frame_whose_router_is_not_registered_is_dropped()
    {
        Assert.True(rig.Routers.Delete((uint)rig.Router));
        Assert.Equal(Xdp.Drop, rig.Run(rig.Physical, frame, rig.P1).ReturnValue);
    }

    [KernelFact]
    public void The_router_pops_the_tag_and_redirects_to_the_interface_the_vlan_names()
    {
        foreach (var p in new[] { rig.P1, rig.P2 })
        {
            var result = rig.Run(rig.RouterProgram, Xdp.Tagged(frame, p), rig.Router);
            Assert.Equal(Xdp.Redirect, result.ReturnValue);
            Assert.Equal(frame, result.Data);
        }
        // Priority and DEI bits are not part of the VLAN id.
        var prioritised = rig.Run(rig.RouterProgram, Xdp.Tagged(frame, (5 << 13) | (1 << 12) | rig.P1), rig.Router);
        Assert.Equal(Xdp.Redirect, prioritised.ReturnValue);
        Assert.Equal(frame, prioritised.Data);
        // Only the outer tag goes: an inner one stays for whoever is behind the interface.
        var inner = Xdp.Tagged(frame, 77);
        var doubled = rig.Run(rig.RouterProgram, Xdp.Tagged(inner, rig.P1), rig.Router);
        Assert.Equal(Xdp.Redirect, doubled.ReturnValue);
        Assert.Equal(inner, doubled.Data);
    }

    [KernelFact]
    public void Unknown_reserved_and_foreign_vlans_untagged_and_truncated_frames_are_dropped_on_the_router_side()
    {
        Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, Xdp.Tagged(frame, 4000), rig.Router).ReturnValue);   // unknown
        Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, Xdp.Tagged(frame, 0), rig.Router).ReturnValue);      // priority tag
        Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, Xdp.Tagged(frame, 4095), rig.Router).ReturnValue);   // reserved
        Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, frame, rig.Router).ReturnValue);                     // untagged
        Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, Xdp.Tagged(frame, rig.P1, tpid: 0x88a8), rig.Router).ReturnValue); // 802.1ad outer
        // Truncated: 14 bytes is the least a test run takes; a tag needs 18.
        var tagged = Xdp.Tagged(frame, rig.P1);
        foreach (var length in new[] { 14, 15, 16, 17 })
            Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, tagged[..length], rig.Router).ReturnValue);
        Assert.Equal(Xdp.Redirect, rig.Run(rig.RouterProgram, tagged[..18], rig.Router).ReturnValue);

        // A VLAN registered for another router: that forwarder's interfaces are out of reach.
        rig.Netns.Run("link", "add", "rt2", "type", "veth", "peer", "name", "rt2p");
        int other = rig.Netns.IfIndex("rt2");
        rig.Netns.Invoke(() => { rig.Routers.Set((uint)other, other); return true; });
        Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, tagged, other).ReturnValue);
        // And a VLAN whose devmap entry points elsewhere than its port says.
        rig.Netns.Invoke(() => { rig.Vlans.Set((uint)rig.P1, rig.P2); return true; });
        Assert.Equal(Xdp.Drop, rig.Run(rig.RouterProgram, tagged, rig.Router).ReturnValue);
    }

    [KernelFact]
    public void A_bare_ethernet_header_still_forwards_and_shorter_frames_never_reach_a_test_run()
    {
        // The kernel refuses test runs under 14 bytes; the smallest frame it takes still forwards.
        var result = rig.Run(rig.Physical, frame[..14], rig.P1);
        Assert.Equal(Xdp.Redirect, result.ReturnValue);
        Assert.Equal(Xdp.Tagged(frame[..14], rig.P1), result.Data);
        var e = Assert.Throws<BpfException>(() => rig.Run(rig.Physical, frame[..13], rig.P1));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [KernelFact]
    public void Live_frames_are_really_redirected_to_the_router_and_back()
    {
        // Redirected XDP frames into a veth need an XDP program on its peer (native rings).
        foreach (var peer in new[] { "rtp", "p1p" })
        {
            int ifIndex = rig.Netns.IfIndex(peer);
            rig.Own(rig.Netns.Invoke(() => XdpLink.Create(rig.Pass, ifIndex, XdpMode.Native)));
        }
        long rtpBefore = RxPackets("rtp"), p1pBefore = RxPackets("p1p");
        rig.Netns.Invoke(() => XdpTestRun.RunLive(rig.Physical, frame, rig.P1, repeat: 100));
        rig.Netns.Invoke(() => XdpTestRun.RunLive(rig.RouterProgram, Xdp.Tagged(frame, rig.P1), rig.Router, repeat: 50));
        // veth delivers redirected frames from NAPI, which a loaded machine may defer: wait for
        // the counts (at most 5 s), then a moment more for any frame too many.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((RxPackets("rtp") - rtpBefore < 100 || RxPackets("p1p") - p1pBefore < 50) && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Thread.Sleep(100);
        Assert.Equal(100, RxPackets("rtp") - rtpBefore);
        Assert.Equal(50, RxPackets("p1p") - p1pBefore);
    }

    private long RxPackets(string device)
    {
        using var json = JsonDocument.Parse(rig.Netns.Run("-j", "-s", "link", "show", "dev", device));
        return json.RootElement[0].GetProperty("stats64").GetProperty("rx").GetProperty("packets").GetInt64();
    }
}
