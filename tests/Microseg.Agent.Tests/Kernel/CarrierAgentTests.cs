// The carrier subsystem under the agent's commands on a real SRv6 lab, in both attach modes: apply loads once and
// reuses, the plug path attaches one carrier interface, clear removes everything, a program
// upgrade switches the links atomically under live cross-host traffic, and a carrier interface
// that leaves the config (or the host) is detached and reclaimed.
using System.Text.Json;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class CarrierAgentTests
{
    private static (bool Loaded, uint? Ingress, uint? Egress, bool Attached, string? Fingerprint) Carrier(CarrierLab lab, LabHost host, Dictionary<string, string>? env = null)
    {
        var r = lab.Lab.MicrosegResult(host, env, "status", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var c = doc.RootElement.GetProperty("carrier");
        bool attached = c.GetProperty("interfaces").EnumerateArray().Any(i => i.GetProperty("ingress").GetBoolean() && i.GetProperty("egress").GetBoolean());
        return (c.GetProperty("loaded").GetBoolean(),
            c.TryGetProperty("ingress_program_id", out var i) ? i.GetUInt32() : null,
            c.TryGetProperty("egress_program_id", out var e) ? e.GetUInt32() : null,
            attached, c.GetProperty("fingerprint").GetString());
    }

    [KernelFact]
    public void Filters_left_in_tc_mode_go_with_the_next_tcx_apply_which_records_that_none_is_left()
    {
        // A host has many devices that are not guest NICs (bridges, firewall ports, uplinks):
        // a tcx apply asks each of them for a carrier tc filter only until one pass found none
        // (the record), and a tc attach removes the record before it adds a filter.
        using var lab = new CarrierLab(LabCarrier.Srv6, attach: "tc");
        var record = Path.Combine(lab.Lab.RunDirectory(lab.A), "carrier", "tc-none");
        string Filters(string direction) => Shell.Check("tc", "-n", lab.Lab.Namespace(lab.A.Name), "filter", "show", "dev", "und0", direction);
        Assert.Contains("handle 0x4d53", Filters("ingress"));
        Assert.False(File.Exists(record), "tc mode: the carrier's filters are on und0");

        var tcx = lab.Lab.MicrosegResult(lab.A, LabGuard.Environment("tcx"), "apply");
        Assert.True(tcx.ExitCode == 0, tcx.Stderr);
        Assert.Contains("carrier: programs reused; SRv6 tag on und0; links +2 ~0 -2", tcx.Stdout);
        Assert.DoesNotContain("0x4d53", Filters("ingress"));
        Assert.DoesNotContain("0x4d53", Filters("egress"));
        Assert.True(File.Exists(record), "the tcx apply found none left and recorded it");
        Assert.Equal(CarrierLab.Db, lab.Seen()["db"]);

        var tc = lab.Lab.MicrosegResult(lab.A, LabGuard.Environment("tc"), "apply");
        Assert.True(tc.ExitCode == 0, tc.Stderr);
        Assert.Contains("carrier: programs reused; SRv6 tag on und0; links +2 ~0 -2", tc.Stdout);
        Assert.False(File.Exists(record), "a tc attach removes the record");
        Assert.Contains("handle 0x4d53", Filters("egress"));
        Assert.Equal(CarrierLab.Db, lab.Seen()["db"]);
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void Apply_reuses_the_programs_clear_removes_everything_and_the_plug_path_attaches_one_interface(string attach)
    {
        using var lab = new CarrierLab(LabCarrier.Srv6, attach: attach);
        var before = Carrier(lab, lab.A);
        Assert.True(before.Loaded && before.Attached);

        var again = lab.Microseg(lab.A, "apply");
        Assert.Contains("carrier: programs reused; SRv6 tag on und0; links +0 ~0 -0", again);
        Assert.Equal(before, Carrier(lab, lab.A));

        var cleared = lab.Microseg(lab.A, "clear");
        Assert.Contains("cleared: 6 links detached", cleared); // web and app x 2, und0 x 2
        Assert.False(Directory.Exists(Path.Combine(lab.Lab.BpffsRoot(lab.A), "carrier")), "the carrier's pins are gone");
        Assert.False(Directory.Exists(Path.Combine(lab.Lab.RunDirectory(lab.A), "carrier")), "the carrier's run state is gone");
        Assert.False(Carrier(lab, lab.A).Loaded);
        Assert.Contains("carrier interface und0 is not fully attached", lab.Microseg(lab.A, "status"));
        Assert.Equal(CarrierLab.Untagged, lab.Seen()["db"]); // nodea no longer reads the tag

        // The plug path for the carrier interface: that one only, policy untouched.
        var plug = lab.Microseg(lab.A, "apply", "und0");
        Assert.Contains("carrier: programs loaded; SRv6 tag on und0; links +2 ~0 -0", plug);
        Assert.DoesNotContain("policy:", plug);
        Assert.True(Carrier(lab, lab.A).Attached);
        Assert.Equal(CarrierLab.Db, lab.Seen()["db"]);
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void An_upgrade_switches_the_carrier_links_without_losing_an_allowed_cross_host_packet(string attach)
    {
        var variant = RepoPaths.BpfObject("carrier.variant.bpf.o");
        Assert.True(File.Exists(variant), "run 'make build' first");
        using var lab = new CarrierLab(LabCarrier.Srv6, attach: attach);
        var env = new Dictionary<string, string> { ["MICROSEG_TEST_CARRIER_OBJECT"] = variant };
        var before = Carrier(lab, lab.A);

        // Both directions cross both hosts' carrier links: web -> db and db -> web.
        using var there = new UdpStream(lab.Lab, lab.Guest("web"), lab.Guest("db"), 7301);
        using var back = new UdpStream(lab.Lab, lab.Guest("db"), lab.Guest("web"), 7302);
        using var denied = new UdpStream(lab.Lab, lab.Guest("app"), lab.Guest("db"), 7303);
        UdpStream.WaitForTraffic([there, back, denied], [there, back], more: 2_000);
        var upgradeA = lab.Lab.MicrosegResult(lab.A, env, "apply");
        var upgradeB = lab.Lab.MicrosegResult(lab.B, env, "apply");
        // Traffic through the new programs on both hosts, and enough of it in all.
        UdpStream.WaitForTraffic([there, back, denied], [there, back], more: 2_000, atLeast: 5_000);
        var (sent, received) = there.Stop();
        var (backSent, backReceived) = back.Stop();
        var (deniedSent, deniedReceived) = denied.Stop();

        Assert.True(upgradeA.ExitCode == 0, upgradeA.Stderr);
        Assert.True(upgradeB.ExitCode == 0, upgradeB.Stderr);
        Assert.Contains("carrier: programs upgraded (2 links switched atomically); SRv6 tag on und0; links +0 ~0 -0", upgradeA.Stdout);
        var after = Carrier(lab, lab.A, env);
        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
        Assert.NotEqual(before.Ingress, after.Ingress);
        Assert.NotEqual(before.Egress, after.Egress);
        Assert.True(after.Attached);
        Assert.True(sent > 5_000 && backSent > 5_000, $"the streams ran ({sent}, {backSent} sent)");
        Assert.Equal(sent, received);
        Assert.Equal(backSent, backReceived);
        Assert.True(deniedSent > 5_000, $"the stream ran ({deniedSent} sent)");
        Assert.Equal(0, deniedReceived);

        Assert.Contains("carrier: programs reused", lab.Lab.MicrosegResult(lab.A, env, "apply").Stdout);
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void A_carrier_interface_that_leaves_the_config_is_detached_and_one_that_leaves_the_host_is_reclaimed(string attach)
    {
        using var lab = new CarrierLab(LabCarrier.Srv6, attach: attach);

        // Only nodeb keeps the carrier: nodea drops its links and programs.
        lab.Lab.Commit(CarrierLab.Policy + "bridge: und0\n\tnodes nodeb\n");
        var a = lab.Microseg(lab.A, "apply");
        Assert.Contains("carrier: no SRv6 carrier interface on this node; links -2, programs unloaded", a);
        Assert.False(Carrier(lab, lab.A).Loaded);
        Assert.Contains("carrier: programs reused; SRv6 tag on und0; links +0 ~0 -0", lab.Microseg(lab.B, "apply"));
        Assert.Equal(CarrierLab.Untagged, lab.Seen()["web"]); // nodea no longer writes web's tag

        // nodeb's und0 goes away: its pinned tcx links outlive the netdev, status says so, and the
        // next apply reclaims them (tc filters went with the device: nothing to reclaim), and
        // warns that the carrier interface is missing.
        Shell.Ip("-n", lab.Lab.Namespace("nodeb"), "link", "del", "und0");
        var status = lab.Microseg(lab.B, "status");
        if (attach == "tcx") Assert.Contains("outlived its netdev", status);
        else Assert.DoesNotContain("outlived", status);
        Assert.Contains("carrier interface und0 is configured for node nodeb but there is no such interface here", status);
        var b = lab.Microseg(lab.B, "apply");
        Assert.Contains($"carrier: no SRv6 carrier interface on this node; links -{(attach == "tcx" ? 2 : 0)}, programs unloaded", b);
        Assert.Contains("warning: carrier: carrier interface und0 is configured for node nodeb but there is no such interface here", b);
        Assert.DoesNotContain("outlived", lab.Microseg(lab.B, "status"));
    }
}
