// The forwarder subsystem through the real `microseg` binary in a forwarder lab: real frames
// from outside namespaces through XDP on veths to a router namespace and back, the plug path,
// upgrades, clear. Each test owns its lab (namespaces msf-<name>-*, a bpffs mount, a run dir)
// and removes it even when it fails.
using System.Text.Json;
using Microseg.Agent.Forwarder;
using Microseg.Lab;
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public sealed class ForwarderTests
{
    [KernelTheory]
    [InlineData(ForwarderMode.Skb)]
    [InlineData(ForwarderMode.Native)]
    public void Frames_cross_tagged_to_the_router_untagged_back_and_outsides_stay_apart(ForwarderMode mode)
    {
        using var guard = new ForwarderLabGuard(mode, outsides: 2);
        var lab = guard.Lab;
        var report = lab.Check();
        Assert.True(report.AllAsExpected, report.Render());

        // The facts themselves, for outside 1 (VLAN = phys1's ifindex in the driver namespace):
        var o1 = lab.OutsidesPresent()[0];
        var o2 = lab.OutsidesPresent()[1];
        bool Row(string check) => report.Rows.Single(r => r.Check == check).Observed;
        Assert.True(Row($"{o1.Namespace} sends untagged → router VLAN {o1.VlanId}"));
        Assert.False(Row($"{o1.Namespace} sends untagged → router VLAN {o2.VlanId}"));
        Assert.False(Row($"{o1.Namespace} sends untagged → router untagged"));
        Assert.False(Row($"{o1.Namespace} sends untagged → {o2.Namespace} untagged"));
        Assert.True(Row($"router sends VLAN {o1.VlanId} → {o1.Namespace} untagged"));
        Assert.False(Row($"router sends VLAN {o1.VlanId} → {o1.Namespace} tagged"));
        Assert.False(Row($"router sends VLAN {o1.VlanId} → {o2.Namespace} untagged"));
        Assert.False(Row($"router sends unknown VLAN {ForwarderLab.UnknownVlan} → any outside"));
        Assert.False(Row("router sends untagged → any outside"));
        Assert.False(Row($"router sends truncated tag (16 bytes, VLAN {o1.VlanId}) → any outside"));

        // Attached in the mode the config asks for, as `ip link` sees it.
        var expected = mode == ForwarderMode.Native ? 1 : 2; // XDP_ATTACHED_DRV / XDP_ATTACHED_SKB
        foreach (var device in new[] { ForwarderLab.Router, o1.Physical, o2.Physical })
            Assert.Equal(expected, XdpMode(lab, device));

        using var status = JsonDocument.Parse(lab.Microseg("status", "--json"));
        var fwd = status.RootElement.GetProperty("forwarder");
        Assert.True(fwd.GetProperty("loaded").GetBoolean());
        var f = fwd.GetProperty("forwarders")[0];
        Assert.Equal(mode == ForwarderMode.Native ? "native" : "skb", f.GetProperty("mode").GetString());
        Assert.True(f.GetProperty("router").GetProperty("attached").GetBoolean());
        Assert.Equal([o1.VlanId, o2.VlanId], f.GetProperty("physical").EnumerateArray().Select(p => p.GetProperty("vlan").GetInt32()));
        Assert.All(f.GetProperty("physical").EnumerateArray(), p => Assert.True(p.GetProperty("attached").GetBoolean()));
        Assert.Empty(status.RootElement.GetProperty("warnings").EnumerateArray());
    }

    [KernelFact]
    public void A_physical_interface_that_appears_after_the_full_apply_is_covered_after_apply_iface()
    {
        using var guard = new ForwarderLabGuard(ForwarderMode.Skb, outsides: 2, physical: ["*"]);
        var lab = guard.Lab;
        var late = lab.AddOutside(3);

        // Before the plug path: nothing forwards phys3's frames, and its VLAN names nothing.
        Assert.False(Reaches(lab, late.Namespace, null, lab.RouterNamespace, FrameFilter.Vlan(late.VlanId)));
        Assert.False(Reaches(lab, lab.RouterNamespace, late.VlanId, late.Namespace, FrameFilter.Untagged));
        Assert.Contains("phys3", lab.Microseg("status"));

        var output = lab.Microseg("apply", late.Physical);
        Assert.Contains($"forwarder: forwarder {ForwarderLab.ForwarderName}: physical phys3 (ifindex {late.VlanId}) → VLAN {late.VlanId} on router rtr0, skb mode attached; links +1 ~0", output);

        var report = lab.Check();
        Assert.True(report.AllAsExpected, report.Render());
        Assert.Contains(report.Rows, r => r.Check == $"{late.Namespace} sends untagged → router VLAN {late.VlanId}" && r.Observed);
        Assert.DoesNotContain("warning", lab.Microseg("status"));
        // The full apply agrees: nothing left to do.
        Assert.Contains("links +0 ~0 -0", lab.Microseg("apply"));
    }

    [KernelFact]
    public void Reapply_without_change_touches_nothing_and_a_removed_physical_interface_is_detached()
    {
        using var guard = new ForwarderLabGuard(ForwarderMode.Skb, outsides: 2);
        var lab = guard.Lab;
        var again = lab.Microseg("apply");
        Assert.Contains("forwarder: programs reused", again);
        Assert.Contains("maps: ports +0 -0, vlans +0 -0; links +0 ~0 -0", again);

        var (o1, o2) = (lab.OutsidesPresent()[0], lab.OutsidesPresent()[1]);
        lab.Commit($"forwarder: {ForwarderLab.ForwarderName}\n\trouter rtr0\n\tphysical phys1\n");
        var shrunk = lab.Microseg("apply");
        Assert.Contains("maps: ports +0 -1, vlans +0 -1; links +0 ~0 -1", shrunk);
        Assert.Null(XdpMode(lab, o2.Physical));
        Assert.False(Reaches(lab, o2.Namespace, null, lab.RouterNamespace, FrameFilter.Vlan(o2.VlanId)));
        Assert.False(Reaches(lab, lab.RouterNamespace, o2.VlanId, o2.Namespace, FrameFilter.Untagged));
        Assert.True(Reaches(lab, o1.Namespace, null, lab.RouterNamespace, FrameFilter.Vlan(o1.VlanId)));

        // No forwarder at all: everything of the subsystem goes.
        lab.Commit("");
        Assert.Contains("no forwarder on this host; removed 2 links and the programs", lab.Microseg("apply"));
        Assert.False(Directory.Exists(Path.Combine(lab.BpffsRoot, "forwarder")));
    }

    [KernelFact]
    public void An_interface_whose_ifindex_cannot_be_a_vlan_id_is_a_clear_error_and_the_others_still_forward()
    {
        using var guard = new ForwarderLabGuard(ForwarderMode.Skb, outsides: 2);
        var lab = guard.Lab;
        Shell.Ip("-n", lab.DriverNamespace, "link", "add", "big0", "index", "5000", "type", "veth", "peer", "name", "big0p");
        Shell.Ip("-n", lab.DriverNamespace, "link", "set", "big0", "up");
        lab.Commit($"forwarder: {ForwarderLab.ForwarderName}\n\trouter rtr0\n\tphysical phys1,phys2,big0\n");
        var r = lab.MicrosegResult("apply");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("microseg: forwarder: forwarder fwd0: physical big0 has ifindex 5000, which cannot be its VLAN id", r.Stderr);
        Assert.Contains("VLAN ids are 1..4094", r.Stderr);
        Assert.Null(XdpMode(lab, "big0"));
        var report = lab.Check();
        Assert.True(report.AllAsExpected, report.Render());
        // The plug path says the same, and fails too.
        var plug = lab.MicrosegResult("apply", "big0");
        Assert.Equal(1, plug.ExitCode);
        Assert.Contains("ifindex 5000", plug.Stderr);
    }

    [KernelFact]
    public void A_new_build_switches_every_link_atomically_and_frames_keep_flowing()
    {
        using var guard = new ForwarderLabGuard(ForwarderMode.Skb, outsides: 2);
        var lab = guard.Lab;
        var variant = RepoPaths.BpfObject("forwarder.variant.bpf.o");
        Assert.True(File.Exists(variant), $"{variant} is missing: run 'make build'");
        var env = new Dictionary<string, string> { [Microseg.Agent.Subsystems.EmbeddedObject.OverrideVariable("forwarder")] = variant };
        var r = lab.MicrosegResult(env, "apply");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("forwarder: programs upgraded", r.Stdout);
        Assert.Contains("links +0 ~0 -0", r.Stdout); // the upgrade switched them; the sync found them current
        var report = lab.Check();
        Assert.True(report.AllAsExpected, report.Render());
        Assert.Contains("are not this build's", lab.Microseg("status"));
        Assert.Contains("forwarder: programs upgraded", lab.Microseg("apply"));
        Assert.True(lab.Check().AllAsExpected);
    }

    [KernelFact]
    public void Clear_detaches_everything_and_removes_every_pin()
    {
        using var guard = new ForwarderLabGuard(ForwarderMode.Native, outsides: 2);
        var lab = guard.Lab;
        var o1 = lab.OutsidesPresent()[0];
        Assert.True(Reaches(lab, o1.Namespace, null, lab.RouterNamespace, FrameFilter.Vlan(o1.VlanId)));

        Assert.Contains("cleared: 3 links detached", lab.Microseg("clear"));
        foreach (var device in new[] { ForwarderLab.Router, "phys1", "phys2" })
            Assert.Null(XdpMode(lab, device));
        Assert.False(Directory.Exists(lab.BpffsRoot), "the pin root is gone");
        Assert.False(Directory.Exists(Path.Combine(lab.RunDirectory, "forwarder")), "the run state is gone");
        Assert.False(Reaches(lab, o1.Namespace, null, lab.RouterNamespace, FrameFilter.Vlan(o1.VlanId)));
        using var status = JsonDocument.Parse(lab.Microseg("status", "--json"));
        Assert.False(status.RootElement.GetProperty("forwarder").GetProperty("loaded").GetBoolean());
    }

    /// <summary>Does one raw frame sent from <paramref name="fromNs"/> eth0 (tagged with
    /// <paramref name="vlan"/> when given) arrive at <paramref name="toNs"/> eth0 as the filter says?</summary>
    private static bool Reaches(ForwarderLab lab, string fromNs, int? vlan, string toNs, FrameFilter filter)
    {
        var label = "probe " + Guid.NewGuid().ToString("N")[..8];
        using var capture = FrameCapture.Open(toNs, "eth0", filter);
        RawFrames.Send(fromNs, "eth0", RawFrames.Build(fromNs == lab.RouterNamespace ? ForwarderLab.RouterMac : "02:4d:66:00:00:aa", vlan, label));
        // A frame that arrives does so within microseconds; one that does not is given half a second.
        return Poll.Until(() => capture.Labels().Contains(label), TimeSpan.FromMilliseconds(500));
    }

    /// <summary>IFLA_XDP_ATTACHED as `ip -j link` reports it (1 driver, 2 generic), null when nothing is attached.</summary>
    private static int? XdpMode(ForwarderLab lab, string device)
    {
        using var json = JsonDocument.Parse(Shell.Ip("-n", lab.DriverNamespace, "-j", "-d", "link", "show", "dev", device));
        return json.RootElement[0].TryGetProperty("xdp", out var xdp) ? xdp.GetProperty("mode").GetInt32() : null;
    }
}

/// <summary>A forwarder lab owned by one test: up on creation, removed on Dispose even when the test fails.</summary>
public sealed class ForwarderLabGuard : IDisposable
{
    public ForwarderLabGuard(ForwarderMode mode, int outsides, IReadOnlyList<string>? physical = null)
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..6];
        if (!File.Exists(RepoPaths.MicrosegBinary)) throw new InvalidOperationException($"{RepoPaths.MicrosegBinary} is missing: run 'make build' first");
        Lab = new ForwarderLab(name, RepoPaths.MicrosegBinary, mode, outsides, NativePeer.AttachPass, physical);
        Lab.Up(TextWriter.Null);
    }

    public ForwarderLab Lab { get; }

    public void Dispose() => ForwarderLab.Down(Lab.Name);
}
