// XDP links (BPF_LINK_CREATE, BPF_XDP) in skb and native mode on veths, pins, atomic updates,
// detach and defunct links; and the device-map view the forwarder redirects through.
using System.Text.Json;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class ForwarderXdpLinkTests : IDisposable
{
    private readonly ForwarderRig rig = new();

    public void Dispose() => rig.Dispose();

    [KernelTheory]
    [InlineData(XdpMode.Skb)]
    [InlineData(XdpMode.Native)]
    public void A_link_attaches_in_either_mode_and_detaches_on_dispose(XdpMode mode)
    {
        var link = rig.Netns.Invoke(() => XdpLink.Create(rig.Physical, rig.P1, mode));
        using (link)
        {
            var info = link.Info();
            Assert.Equal(BpfLinkType.Xdp, info.Type);
            Assert.Equal(rig.P1, info.IfIndex);
            Assert.Equal(rig.Physical.Info().Id, info.ProgramId);
            Assert.False(link.IsDefunct);
            Assert.Equal((mode == XdpMode.Skb ? "generic" : "driver", info.ProgramId), AttachedXdp("p1"));
        }
        Assert.Null(AttachedXdp("p1"));
    }

    [KernelFact]
    public void A_pinned_link_outlives_its_fd_updates_atomically_and_detaches_while_pinned()
    {
        using var bpffs = new TempBpffs();
        string pin = bpffs.File("p1-link");
        using (var link = rig.Netns.Invoke(() => XdpLink.Create(rig.Physical, rig.P1, XdpMode.Skb)))
            link.Pin(pin);
        Assert.Equal(rig.Physical.Info().Id, AttachedXdp("p1")?.Id);

        using var pinned = XdpLink.OpenPinned(pin);
        Assert.Null(pinned.Mode);
        pinned.Update(rig.Pass);
        Assert.Equal(rig.Pass.Info().Id, AttachedXdp("p1")?.Id);
        Assert.Equal(rig.Pass.Info().Id, pinned.Info().ProgramId);

        pinned.Detach();
        Assert.True(pinned.IsDefunct);
        Assert.Null(AttachedXdp("p1"));
        var e = Assert.Throws<BpfException>(() => pinned.Update(rig.Physical));
        Assert.Contains("defunct", e.Message);
        Assert.True(Bpffs.Unpin(pin));
    }

    [KernelFact]
    public void A_pinned_link_whose_netdev_is_deleted_is_defunct()
    {
        using var bpffs = new TempBpffs();
        string pin = bpffs.File("p2-link");
        using (var link = rig.Netns.Invoke(() => XdpLink.Create(rig.Physical, rig.P2, XdpMode.Native)))
            link.Pin(pin);
        rig.Netns.Run("link", "del", "p2");
        using var pinned = XdpLink.OpenPinned(pin);
        Assert.True(pinned.IsDefunct);
        Assert.Equal(0, pinned.Info().IfIndex);
    }

    [KernelFact]
    public void Skb_and_native_mode_cannot_both_be_attached_and_the_error_says_so()
    {
        using var native = rig.Netns.Invoke(() => XdpLink.Create(rig.Physical, rig.P1, XdpMode.Native));
        var e = Assert.Throws<BpfException>(() => rig.Netns.Invoke(() => XdpLink.Create(rig.Pass, rig.P1, XdpMode.Skb)));
        Assert.StartsWith("attach XDP (skb mode) to p1 (ifindex", e.Message);
        Assert.Contains("another XDP program is attached there", e.Message);
        var missing = Assert.Throws<BpfException>(() => rig.Netns.Invoke(() => XdpLink.Create(rig.Pass, 999_999, XdpMode.Skb)));
        Assert.Equal(Errno.EINVAL, missing.Errno);
        Assert.Contains("no interface has ifindex 999999 in this network namespace", missing.Message);
    }

    [KernelFact]
    public void Opening_a_tc_program_or_a_tcx_link_as_xdp_fails_with_a_clear_message()
    {
        using var bpffs = new TempBpffs();
        string pin = bpffs.File("prog");
        rig.Physical.Pin(pin);
        var e = Assert.Throws<BpfException>(() => XdpLink.OpenPinned(pin));
        Assert.Contains("holds a BPF program, not a link", e.Message);
    }

    [KernelFact]
    public void The_device_map_view_sets_looks_up_deletes_and_walks_ifindexes()
    {
        Assert.True(rig.Vlans.IsHash);
        Assert.Equal((uint)ForwarderAbi.VlansMaxEntries, rig.Vlans.MaxEntries);
        Assert.True(rig.Vlans.TryLookup((uint)rig.P1, out var target));
        Assert.Equal(rig.P1, target);
        Assert.Equal([(uint)rig.P1, (uint)rig.P2], rig.Vlans.Entries().Select(e => e.Key).Order());
        Assert.True(rig.Vlans.Delete((uint)rig.P2));
        Assert.False(rig.Vlans.Delete((uint)rig.P2));
        Assert.False(rig.Vlans.TryLookup((uint)rig.P2, out _));

        // An ifindex resolves in the writer's namespace: one that does not exist there is refused.
        var e = Assert.Throws<BpfException>(() => rig.Netns.Invoke(() => { rig.Vlans.Set(9, 999_999); return true; }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("no interface has ifindex 999999 in this network namespace", e.Message);

        // The kernel removes an entry whose netdev is unregistered.
        rig.Netns.Run("link", "del", "p1");
        Assert.False(rig.Vlans.TryLookup((uint)rig.P1, out _));
    }

    [KernelFact]
    public void Typed_views_refuse_maps_of_the_wrong_kind()
    {
        var asDevMap = Assert.Throws<BpfException>(() => new BpfDevMap(rig.Object.Map(ForwarderAbi.PortsMap)));
        Assert.Contains("not a devmap", asDevMap.Message);
        var asHash = Assert.Throws<BpfException>(() => new BpfHashMap<uint, uint>(rig.Object.Map(ForwarderAbi.VlansMap)));
        Assert.Contains("not a hash map", asHash.Message);
    }

    /// <summary>What `ip link show` says is attached: (mode name, program id), or null.</summary>
    private (string Mode, uint Id)? AttachedXdp(string device)
    {
        using var json = JsonDocument.Parse(rig.Netns.Run("-j", "-d", "link", "show", "dev", device));
        if (!json.RootElement[0].TryGetProperty("xdp", out var xdp)) return null;
        string mode = xdp.GetProperty("mode").GetInt32() switch { 1 => "driver", 2 => "generic", 3 => "offload", int m => $"mode {m}" };
        return (mode, xdp.GetProperty("prog").GetProperty("id").GetUInt32());
    }
}
