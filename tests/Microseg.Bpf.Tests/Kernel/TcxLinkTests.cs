// tcx links on a veth in a namespace of the test's own: create, pin, reopen, info, atomic
// update, detach, and what a pinned link looks like once its netdev is gone.
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class TcxLinkTests : IDisposable
{
    private readonly TempBpffs bpffs = new();
    private readonly TempNetns netns;
    private readonly BpfObject policy;
    private readonly int veth;

    public TcxLinkTests()
    {
        try
        {
            netns = new TempNetns();
            netns.Run("link", "add", "h0", "type", "veth", "peer", "name", "g0");
            netns.Run("link", "set", "h0", "up");
            netns.Run("link", "set", "g0", "up");
            veth = netns.IfIndex("h0");
            policy = PolicyObject.Load(bpffs);
        }
        catch
        {
            netns?.Dispose();
            bpffs.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        policy.Dispose();
        netns.Dispose();
        bpffs.Dispose();
    }

    [KernelFact]
    public void Create_pin_reopen_update_detach()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        string path = bpffs.File($"{veth}-egress");

        using (var link = netns.Invoke(() => TcxLink.Create(egress, veth, TcxDirection.Egress)))
        {
            link.Pin(path);
            var created = link.Info();
            Assert.Equal(BpfLinkType.Tcx, created.Type);
            Assert.Equal(veth, created.IfIndex);
            Assert.Equal(47u, created.AttachType);
            Assert.Equal(TcxDirection.Egress, created.TcxDirection);
            Assert.Equal(egress.Info().Id, created.ProgramId);
            Assert.False(created.IsDefunct);
        }

        using var pinned = TcxLink.OpenPinned(path);
        Assert.Equal((veth, TcxDirection.Egress), (pinned.IfIndex, pinned.Direction));
        Assert.Equal(egress.Info().Id, pinned.Info().ProgramId); // still attached after the creator's fd closed

        pinned.Update(ingress);
        Assert.Equal(ingress.Info().Id, pinned.Info().ProgramId);

        pinned.Detach();
        var detached = pinned.Info();
        Assert.Equal((BpfLinkType.Tcx, 0, 47u), (detached.Type, detached.IfIndex, detached.AttachType));
        Assert.True(detached.IsDefunct);
        Assert.True(File.Exists(path));
        pinned.Detach(); // detaching a defunct link again is not an error
        Assert.Equal(Errno.ENOLINK, Assert.Throws<BpfException>(() => pinned.Update(egress)).Errno);
    }

    [KernelFact]
    public void A_pinned_link_reports_ifindex_0_once_its_netdev_is_deleted()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        using (var link = netns.Invoke(() => TcxLink.Create(ingress, veth, TcxDirection.Ingress)))
            link.Pin(bpffs.File($"{veth}-ingress"));
        using var held = netns.Invoke(() => TcxLink.Create(egress, veth, TcxDirection.Egress)); // by fd only

        netns.Run("link", "del", "h0");

        using var pinned = TcxLink.OpenPinned(bpffs.File($"{veth}-ingress"));
        var info = pinned.Info();
        Assert.Equal(BpfLinkType.Tcx, info.Type);
        Assert.Equal(0, info.IfIndex);
        Assert.Equal(TcxDirection.Ingress, info.TcxDirection);
        Assert.True(info.IsDefunct);
        Assert.Equal(ingress.Info().Id, info.ProgramId);
        Assert.True(held.Info().IsDefunct);

        pinned.Detach(); // nothing left to detach, and no error either
        var e = Assert.Throws<BpfException>(() => pinned.Update(egress));
        Assert.Equal(Errno.ENOLINK, e.Errno);
        Assert.EndsWith("the link is defunct: its interface is gone or it was detached; create a new link", e.Message);
    }

    [KernelFact]
    public void Links_to_both_directions_and_a_second_program_on_one_hook_coexist()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        using var first = netns.Invoke(() => TcxLink.Create(ingress, veth, TcxDirection.Ingress));
        using var second = netns.Invoke(() => TcxLink.Create(egress, veth, TcxDirection.Egress));
        using var third = netns.Invoke(() => TcxLink.Create(egress, veth, TcxDirection.Ingress));

        Assert.Equal(TcxDirection.Ingress, first.Info().TcxDirection);
        Assert.Equal(TcxDirection.Egress, second.Info().TcxDirection);
        Assert.Equal(TcxDirection.Ingress, third.Info().TcxDirection);
    }

    [KernelFact]
    public void The_same_program_twice_on_one_hook_is_EEXIST_with_the_interface_named()
    {
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        using var link = netns.Invoke(() => TcxLink.Create(egress, veth, TcxDirection.Egress));

        var e = Assert.Throws<BpfException>(() => netns.Invoke(() => TcxLink.Create(egress, veth, TcxDirection.Egress)));

        Assert.Equal($"attach tcx egress to h0 (ifindex {veth}): EEXIST (File exists); program policy_egress is already attached there", e.Message);
    }

    [KernelFact]
    public void An_ifindex_missing_from_the_namespace_is_ENODEV()
    {
        using var egress = policy.Program(PolicyAbi.EgressProgram);

        var e = Assert.Throws<BpfException>(() => netns.Invoke(() => TcxLink.Create(egress, 999_999, TcxDirection.Egress)));

        Assert.Equal("attach tcx egress to ifindex 999999: ENODEV (No such device); no interface has ifindex 999999 in this network namespace", e.Message);
    }

    [KernelFact]
    public void Disposing_an_unpinned_link_detaches_it_and_a_pinned_one_stays()
    {
        using var ingress = policy.Program(PolicyAbi.IngressProgram);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        uint unpinnedId, pinnedId;
        using (var unpinned = netns.Invoke(() => TcxLink.Create(ingress, veth, TcxDirection.Ingress)))
            unpinnedId = unpinned.Info().Id;
        using (var pinned = netns.Invoke(() => TcxLink.Create(egress, veth, TcxDirection.Egress)))
        {
            pinned.Pin(bpffs.File("kept"));
            pinnedId = pinned.Info().Id;
        }

        Assert.False(LinkIds.Exists(unpinnedId));
        Assert.True(LinkIds.Exists(pinnedId));
        using var kept = TcxLink.OpenPinned(bpffs.File("kept"));
        Assert.Equal(veth, kept.Info().IfIndex);
    }

    [KernelFact]
    public void A_pinned_link_opens_only_as_the_link_type_it_is()
    {
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        egress.Pin(bpffs.File("not-a-link"));

        var e = Assert.Throws<BpfException>(() => TcxLink.OpenPinned(bpffs.File("not-a-link")));

        Assert.Equal($"open pinned link {bpffs.File("not-a-link")}: it holds a BPF program, not a link", e.Message);
    }
}
