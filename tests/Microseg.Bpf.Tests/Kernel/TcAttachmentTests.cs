// The tc attach mode on a veth in a namespace of the test's own: attach (creating the clsact
// qdisc or reusing it), query, replace, detach; foreign filters on the same device survive all
// of it; a deleted device fails clearly and takes our filter with it. Also the attachment
// interface that tcx links and tc filters share.
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class TcAttachmentTests : IDisposable
{
    private const string Ours = "pref 1 bpf handle 0x4d53";

    private readonly TempBpffs bpffs = new();
    private readonly TempNetns netns;
    private readonly BpfObject policy;
    private readonly BpfProgram ingress;
    private readonly BpfProgram egress;
    private readonly int veth;

    public TcAttachmentTests()
    {
        try
        {
            netns = new TempNetns();
            netns.Run("link", "add", "h0", "type", "veth", "peer", "name", "g0");
            netns.Run("link", "set", "h0", "up");
            netns.Run("link", "set", "g0", "up");
            veth = netns.IfIndex("h0");
            policy = PolicyObject.Load(bpffs);
            ingress = policy.Program(PolicyAbi.IngressProgram);
            egress = policy.Program(PolicyAbi.EgressProgram);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        ingress?.Dispose();
        egress?.Dispose();
        policy?.Dispose();
        netns?.Dispose();
        bpffs.Dispose();
    }

    [KernelFact]
    public void Attach_creates_the_qdisc_then_query_replace_and_detach_our_filter()
    {
        Assert.False(TcCommand.HasClsact(netns, "h0"));
        Assert.Null(netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Egress)));

        var attached = netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress));

        Assert.Equal((AttachMode.Tc, veth, HookDirection.Egress), (attached.Mode, attached.IfIndex, attached.Direction));
        Assert.True(TcCommand.HasClsact(netns, "h0"));
        Assert.Equal([Ours], TcCommand.Filters(netns, "h0", "egress"));
        Assert.Empty(TcCommand.Filters(netns, "h0", "ingress"));
        Assert.Equal(egress.Info().Id, netns.Invoke(attached.AttachedProgramId));
        Assert.Equal($"tc egress filter on h0 (ifindex {veth})", netns.Invoke(attached.ToString));

        var found = netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Egress));
        Assert.NotNull(found);
        Assert.Equal(egress.Info().Id, netns.Invoke(found.AttachedProgramId));
        Assert.Null(netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Ingress)));

        netns.Invoke(() => { found.Update(ingress); return 0; });
        Assert.Equal(ingress.Info().Id, netns.Invoke(attached.AttachedProgramId));
        Assert.Equal([Ours], TcCommand.Filters(netns, "h0", "egress")); // replaced in place, not added

        netns.Invoke(() => { attached.Detach(); return 0; });
        Assert.Empty(TcCommand.Filters(netns, "h0", "egress"));
        Assert.Equal(0u, netns.Invoke(attached.AttachedProgramId));
        Assert.Null(netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Egress)));
        Assert.True(TcCommand.HasClsact(netns, "h0")); // the qdisc is never ours to remove
        netns.Invoke(() => { attached.Detach(); return 0; }); // detaching what is gone is not an error

        var e = Assert.Throws<BpfException>(() => netns.Invoke(() => { attached.Update(egress); return 0; }));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal($"update tc egress filter on h0 (ifindex {veth}) to program policy_egress: ENOENT (No such file or directory); " +
                     "our filter is gone (detached, or its qdisc was deleted): attach anew", e.Message);
        Assert.Empty(TcCommand.Filters(netns, "h0", "egress")); // Update never creates
    }

    [KernelFact]
    public void Both_hooks_are_independent_and_an_existing_clsact_qdisc_is_reused()
    {
        TcCommand.Run(netns, "qdisc", "add", "dev", "h0", "clsact");

        var onIngress = netns.Invoke(() => TcAttachment.Attach(ingress, veth, HookDirection.Ingress));
        var onEgress = netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress));

        Assert.Equal(ingress.Info().Id, netns.Invoke(onIngress.AttachedProgramId));
        Assert.Equal(egress.Info().Id, netns.Invoke(onEgress.AttachedProgramId));
        netns.Invoke(() => { onEgress.Detach(); return 0; });
        Assert.Equal([Ours], TcCommand.Filters(netns, "h0", "ingress"));
        Assert.Empty(TcCommand.Filters(netns, "h0", "egress"));
        Assert.Equal(ingress.Info().Id, netns.Invoke(onIngress.AttachedProgramId));
    }

    [KernelFact]
    public void Our_filter_twice_on_one_hook_is_EEXIST_with_the_interface_named()
    {
        netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress));

        var e = Assert.Throws<BpfException>(() => netns.Invoke(() => TcAttachment.Attach(ingress, veth, HookDirection.Egress)));

        Assert.Equal($"attach tc egress filter to h0 (ifindex {veth}): EEXIST (File exists); " +
                     "microseg's filter (handle 0x4d53, priority 1) is already there: find it and update it", e.Message);
        Assert.Equal(egress.Info().Id, netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Egress)!.AttachedProgramId()));
    }

    [KernelFact]
    public void Foreign_filters_survive_our_attach_replace_and_detach_and_keep_the_qdisc()
    {
        TcCommand.Run(netns, "qdisc", "add", "dev", "h0", "clsact");
        TcCommand.Run(netns, "filter", "add", "dev", "h0", "egress", "prio", "100", "protocol", "all",
            "u32", "match", "u32", "0xdeadbeef", "0xffffffff", "at", "0", "classid", "1:1");
        TcCommand.Run(netns, "filter", "add", "dev", "h0", "egress", "prio", "200", "protocol", "all",
            "bpf", "bytecode", "1,6 0 0 0,", "classid", "1:2");
        TcCommand.Run(netns, "filter", "add", "dev", "h0", "ingress", "prio", "300", "protocol", "all",
            "bpf", "bytecode", "1,6 0 0 0,", "classid", "1:3");
        string[] foreignEgress = ["pref 100 u32", "pref 200 bpf handle 0x1"];
        string[] foreignIngress = ["pref 300 bpf handle 0x1"];

        var attached = netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress));
        Assert.Equal([Ours, .. foreignEgress], TcCommand.Filters(netns, "h0", "egress"));
        Assert.Equal(foreignIngress, TcCommand.Filters(netns, "h0", "ingress"));

        netns.Invoke(() => { attached.Update(ingress); return 0; });
        Assert.Equal(ingress.Info().Id, netns.Invoke(attached.AttachedProgramId));
        Assert.Equal([Ours, .. foreignEgress], TcCommand.Filters(netns, "h0", "egress"));

        netns.Invoke(() => { attached.Detach(); return 0; });
        Assert.Equal(foreignEgress, TcCommand.Filters(netns, "h0", "egress"));
        Assert.Equal(foreignIngress, TcCommand.Filters(netns, "h0", "ingress"));
        Assert.True(TcCommand.HasClsact(netns, "h0"));
    }

    [KernelFact]
    public void A_foreign_filter_of_another_kind_at_our_priority_is_reported_not_replaced()
    {
        TcCommand.Run(netns, "qdisc", "add", "dev", "h0", "clsact");
        TcCommand.Run(netns, "filter", "add", "dev", "h0", "egress", "prio", "1", "protocol", "all",
            "u32", "match", "u32", "0xdeadbeef", "0xffffffff", "at", "0", "classid", "1:1");

        Assert.Null(netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Egress)));
        var e = Assert.Throws<BpfException>(() => netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress)));

        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith($"attach tc egress filter to h0 (ifindex {veth}): EINVAL (Invalid argument); a filter of another kind holds priority 1", e.Message);
        Assert.EndsWith("see 'tc filter show dev h0 egress'", e.Message);
        Assert.Equal(["pref 1 u32"], TcCommand.Filters(netns, "h0", "egress"));
    }

    [KernelFact]
    public void Attach_on_a_deleted_device_fails_clearly_and_a_deleted_device_takes_our_filter_along()
    {
        var attached = netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress));

        netns.Run("link", "del", "h0");

        Assert.Null(netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Egress)));
        Assert.Equal(0u, netns.Invoke(attached.AttachedProgramId));
        netns.Invoke(() => { attached.Detach(); return 0; }); // nothing left, and no error either
        var update = Assert.Throws<BpfException>(() => netns.Invoke(() => { attached.Update(ingress); return 0; }));
        Assert.Equal($"update tc egress filter on ifindex {veth} to program policy_ingress: ENODEV (No such device); " +
                     $"no interface has ifindex {veth} any more: its filters went with it", update.Message);

        var e = Assert.Throws<BpfException>(() => netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress)));
        Assert.Equal(Errno.ENODEV, e.Errno);
        Assert.Equal($"attach tc egress filter to ifindex {veth}: create its clsact qdisc: ENODEV (No such device); " +
                     $"no interface has ifindex {veth} in this network namespace", e.Message);
    }

    [KernelFact]
    public void A_new_device_on_a_recycled_ifindex_has_no_filter_of_ours()
    {
        netns.Invoke(() => TcAttachment.Attach(egress, veth, HookDirection.Egress));
        netns.Run("link", "del", "h0");

        // An explicit index makes the recycling certain: the kernel would hand it out again anyway.
        netns.Run("link", "add", "h9", "index", veth.ToString(System.Globalization.CultureInfo.InvariantCulture), "type", "veth", "peer", "name", "g9");
        Assert.Equal(veth, netns.IfIndex("h9"));

        Assert.Null(netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Egress)));
        Assert.Null(netns.Invoke(() => TcAttachment.Find(veth, HookDirection.Ingress)));
        Assert.False(TcCommand.HasClsact(netns, "h9"));
    }

    [KernelTheory]
    [InlineData(AttachMode.Tcx)]
    [InlineData(AttachMode.Tc)]
    public void Either_mode_is_one_attachment_update_program_id_detach(AttachMode mode)
    {
        using IDeviceAttachment attachment = netns.Invoke(() => DeviceAttachment.Attach(mode, egress, veth, HookDirection.Egress));

        Assert.Equal((mode, veth, HookDirection.Egress), (attachment.Mode, attachment.IfIndex, attachment.Direction));
        Assert.Equal(egress.Info().Id, netns.Invoke(attachment.AttachedProgramId));
        netns.Invoke(() => { attachment.Update(ingress); return 0; });
        Assert.Equal(ingress.Info().Id, netns.Invoke(attachment.AttachedProgramId));
        netns.Invoke(() => { attachment.Detach(); return 0; });
        Assert.Equal(0u, netns.Invoke(attachment.AttachedProgramId));
        netns.Invoke(() => { attachment.Detach(); return 0; });
    }
}
