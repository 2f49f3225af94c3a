// The attach mode across runs: switching between tcx links and tc filters under live traffic
// (the new kind first, then the old one removed), clear in tc mode (our filters go, foreign ones
// and the qdisc stay), and status naming the mode and why.
using System.Text.Json;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class AttachModeTests
{
    private static readonly string Example = File.ReadAllText(Path.Combine(RepoPaths.Root, "examples", "microseg.cfg"));
    private static readonly (string, long, long)[] Guests = [("ct100", 100, 0), ("ct101", 101, 0), ("ct200", 200, 1)];

    /// <summary>`tc filter show dev NIC ingress|egress` in the host's namespace.</summary>
    private static string Filters(LabGuard lab, string nic, string direction) =>
        Shell.Check("tc", "-n", lab.Lab.Namespace(lab.Host.Name), "filter", "show", "dev", nic, direction);

    private static string[] LinkPins(LabGuard lab)
    {
        var dir = Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy", "links");
        return Directory.Exists(dir) ? Directory.GetFiles(dir) : [];
    }

    private static (string Mode, string Reason) Attach(LabGuard lab, string? attach)
    {
        var r = lab.Lab.MicrosegResult(lab.Host, LabGuard.Environment(attach), "status", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var a = doc.RootElement.GetProperty("policy").GetProperty("attach");
        return (a.GetProperty("mode").GetString()!, a.GetProperty("reason").GetString()!);
    }

    [KernelFact]
    public void Switching_tcx_to_tc_and_back_under_traffic_loses_no_allowed_packet_passes_no_denied_one_and_leaves_one_kind()
    {
        using var lab = new LabGuard(Example, Guests, attach: "tcx");
        var nics = Guests.Select(g => lab.Guest(g.Item1).HostNic).ToList();
        using var allowed = new UdpStream(lab.Lab, lab.Guest("ct200"), lab.Guest("ct100"), 7401); // db -> wiki: allow
        using var denied = new UdpStream(lab.Lab, lab.Guest("ct200"), lab.Guest("ct101"), 7402);  // db -> wol: deny
        UdpStream.WaitForTraffic([allowed, denied], [allowed], more: 2_000);

        var switchedAt = new List<string>();
        foreach (var mode in new[] { "tc", "tcx" })
        {
            long at = allowed.Sent;
            var r = lab.Lab.MicrosegResult(lab.Host, LabGuard.Environment(mode), "apply");
            switchedAt.Add($"to {mode} at {at}-{allowed.Sent}");
            Assert.True(r.ExitCode == 0, r.Stderr);
            // Six hooks of the new kind created, six of the old kind removed.
            Assert.Contains("links +6 ~0 -6", r.Stdout);
            Assert.Equal(mode, Attach(lab, mode).Mode);
            if (mode == "tc")
            {
                Assert.Empty(LinkPins(lab));
                foreach (var nic in nics)
                    foreach (var d in new[] { "ingress", "egress" })
                        Assert.Contains("handle 0x4d53", Filters(lab, nic, d));
            }
            else
            {
                Assert.Equal(6, LinkPins(lab).Length);
                foreach (var nic in nics)
                    foreach (var d in new[] { "ingress", "egress" })
                        Assert.DoesNotContain("0x4d53", Filters(lab, nic, d));
            }
            Assert.Empty(JsonDocument.Parse(lab.Lab.MicrosegResult(lab.Host, LabGuard.Environment(mode), "status", "--json").Stdout)
                .RootElement.GetProperty("warnings").EnumerateArray());
            UdpStream.WaitForTraffic([allowed, denied], [allowed], more: 2_000);
        }
        UdpStream.WaitForTraffic([allowed, denied], [allowed], more: 0, atLeast: 5_000);
        var (aSent, aReceived) = allowed.Stop();
        var (dSent, dReceived) = denied.Stop();
        Assert.True(aSent > 5_000, $"the stream ran ({aSent} sent)");
        Assert.True(aSent == aReceived, $"{aSent - aReceived} of {aSent} allowed datagrams lost: {allowed.LostRanges()} (switched {string.Join(", ", switchedAt)})");
        Assert.True(dSent > 5_000, $"the stream ran ({dSent} sent)");
        Assert.Equal(0, dReceived);
    }

    [KernelFact]
    public void Clear_in_tc_mode_removes_our_filters_and_leaves_foreign_ones_and_the_qdisc()
    {
        using var lab = new LabGuard(Example, Guests, attach: "tc");
        var ns = lab.Lab.Namespace(lab.Host.Name);
        var wiki = lab.Guest("ct100").HostNic;
        // Someone else's filters on the same hooks, at later priorities.
        Shell.Check("tc", "-n", ns, "filter", "add", "dev", wiki, "ingress", "prio", "5", "protocol", "all",
            "u32", "match", "u32", "0xdeadbeef", "0xffffffff", "at", "0", "classid", "1:1");
        Shell.Check("tc", "-n", ns, "filter", "add", "dev", wiki, "egress", "prio", "6", "protocol", "all",
            "bpf", "bytecode", "1,6 0 0 0,", "classid", "1:2");
        Assert.Contains("handle 0x4d53", Filters(lab, wiki, "ingress"));

        var output = lab.Microseg("clear");
        Assert.Contains("6 links detached", output);
        foreach (var g in Guests)
            foreach (var d in new[] { "ingress", "egress" })
                Assert.DoesNotContain("0x4d53", Filters(lab, lab.Guest(g.Item1).HostNic, d));
        Assert.Contains("pref 5 u32", Filters(lab, wiki, "ingress"));
        Assert.Contains("pref 6 bpf", Filters(lab, wiki, "egress"));
        Assert.Contains("clsact", Shell.Check("tc", "-n", ns, "qdisc", "show", "dev", wiki));
        Assert.True(lab.Udp()[("ct200", "ct101")], "nothing enforces after clear");
    }

    [KernelFact]
    public void Status_names_the_mode_in_effect_and_why()
    {
        using var lab = new LabGuard(Example, Guests, attach: "tc");
        Assert.Equal(("tc", "forced"), Attach(lab, "tc"));
        Assert.Contains("attach:    tc (forced)", lab.Microseg("status"));
        // The kernel we test on has tcx: auto picks it, and says why.
        var auto = Attach(lab, "auto");
        Assert.Equal("tcx", auto.Mode);
        Assert.StartsWith("auto: kernel ", auto.Reason);
        Assert.EndsWith(" has tcx", auto.Reason);
        // Asked with another mode than the one applied, status says what the next apply does.
        var r = lab.Lab.MicrosegResult(lab.Host, LabGuard.Environment("tcx"), "status");
        Assert.Contains("attach:    tcx (forced)", r.Stdout);
        Assert.Contains("6 hooks still run a tc attachment while the attach mode is tcx: the next apply switches them", r.Stdout);
        Assert.Contains("--attach", lab.MicrosegResult("apply", "--attach", "tcp").Stderr);
    }
}
