// The agent on real guests: real programs, real tcx links or tc filters (each test runs in both
// attach modes), real packets between namespaces.
using System.Text.Json;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class PolicyEnforcementTests
{
    private static readonly string Example = File.ReadAllText(Path.Combine(RepoPaths.Root, "examples", "microseg.cfg"));

    // SPEC §4's NICs: CT100 net0 (wiki), CT101 net0 (wol), CT200 net1 (db), plus an unassigned guest.
    private static readonly (string, long, long)[] ExampleGuests =
        [("ct100", 100, 0), ("ct101", 101, 0), ("ct200", 200, 1), ("ct300", 300, 0)];

    /// <summary>The example with both roots (and so every group) set to `stateful 0`: the strict
    /// stateless meaning, where a round trip needs a rule each way.</summary>
    internal static string Stateless(string policy) =>
        policy.Replace("group: db\n\tmark 20\n", "group: db\n\tmark 20\n\tstateful 0\n")
              .Replace("group: web\n\tmark 10\n", "group: web\n\tmark 10\n\tstateful 0\n");

    [KernelTheory]
    [InlineData("tcx", true)]
    [InlineData("tc", true)]
    [InlineData("tcx", false)]
    [InlineData("tc", false)]
    public void Worked_example_observed_on_real_guests_equals_the_engine(string attach, bool stateful)
    {
        var policy = stateful ? Example : Stateless(Example);
        Assert.Equal(stateful, policy == Example);
        using var lab = new LabGuard(policy, ExampleGuests, attach: attach);
        var report = LabCheck.Run(lab.Lab);
        Assert.True(report.AllMatch, LabCheck.Render(lab.Lab, report));

        // And the facts of SPEC §4 themselves, one way:
        var udp = report.Udp.ToDictionary(p => (p.Src.Name, p.Dst.Name), p => p.Observed);
        Assert.True(udp[("ct200", "ct100")]);   // db -> wiki: allow (inherited from db -> web)
        Assert.False(udp[("ct200", "ct101")]);  // db -> wol: deny (dst distance 0 beats 1)
        Assert.True(udp[("ct100", "ct200")]);   // wiki -> db: allow (src distance 1)
        Assert.True(udp[("ct101", "ct200")]);   // wol -> db: allow
        Assert.False(udp[("ct300", "ct100")]);  // untagged -> any: deny
        Assert.False(udp[("ct300", "ct200")]);
        Assert.True(udp[("ct100", "ct300")]);   // an unassigned NIC is not enforced
        // Round trips: db <-> wiki works both ways (a rule each way); db -> wol is denied. wol
        // -> db is allowed, and its answers pass as replies only when wol's group is stateful
        // (stateless, db -> wol's deny drops them).
        var icmp = report.Icmp.ToDictionary(p => (p.Src.Name, p.Dst.Name), p => p.Observed);
        var tcp = report.Tcp.ToDictionary(p => (p.Src.Name, p.Dst.Name), p => p.Observed);
        Assert.True(icmp[("ct200", "ct100")] && icmp[("ct100", "ct200")] && tcp[("ct200", "ct100")] && tcp[("ct100", "ct200")]);
        Assert.False(icmp[("ct200", "ct101")] || tcp[("ct200", "ct101")]);
        Assert.Equal(stateful, tcp[("ct101", "ct200")]);
        Assert.Equal(stateful, icmp[("ct101", "ct200")]);
        // An enforced NIC's connection to the unassigned guest: its answers (untagged, which no
        // rule allows) come back only as replies.
        Assert.False(tcp[("ct300", "ct100")]);
        Assert.Equal(stateful, tcp[("ct100", "ct300")]);
    }

    [KernelTheory]
    [InlineData("tcx", true)]
    [InlineData("tc", false)]
    public void Untagged_rule_lets_unassigned_guests_reach_that_group_only(string attach, bool stateful)
    {
        var policy = (stateful ? Example : Stateless(Example)) + "\nrule: p0-20\n\tdst db\n\taction allow\n";
        using var lab = new LabGuard(policy, ExampleGuests, attach: attach);
        var udp = lab.Udp();
        Assert.True(udp[("ct300", "ct200")]);   // untagged -> db: the rule
        Assert.False(udp[("ct300", "ct100")]);  // untagged -> wiki: still default deny
        Assert.False(udp[("ct300", "ct101")]);
        var report = LabCheck.Run(lab.Lab);
        Assert.True(report.AllMatch, LabCheck.Render(lab.Lab, report));
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void Plug_path_enforces_a_nic_that_appears_after_the_full_apply(string attach)
    {
        var policy = Example + "\nassignment: vm102i0\n\tvmid 102\n\tiface 0\n\tgroup wol\n";
        using var lab = new LabGuard(policy, [("ct100", 100, 0), ("ct200", 200, 1)], attach: attach);
        var late = new LabGuest("ct102", "node1", 102, 0, "10.78.0.99/16");
        var db = lab.Guest("ct200");
        var spec = lab.Lab.Spec with { Guests = [.. lab.Lab.Spec.Guests, late] };
        var grown = new Microseg.Lab.Lab(spec, lab.Lab.MicrosegBinary);
        grown.CreateGuest(late);

        // Before the plug path runs, the new NIC has no program: db reaches it although db -> wol is denied.
        Assert.True(new Probes(grown).OneWayUdp([db, late])[("ct200", "ct102")]);
        var output = lab.Microseg("apply", late.HostNic);
        Assert.Contains($"enforced 1 NIC: {late.HostNic} (wol)", output);
        var after = new Probes(grown).OneWayUdp([db, late, lab.Guest("ct100")]);
        Assert.False(after[("ct200", "ct102")]);  // db -> wol: deny
        Assert.True(after[("ct102", "ct200")]);   // wol -> db: allow
        Assert.True(after[("ct200", "ct100")]);   // the others untouched
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void Unassigned_and_non_guest_names_are_no_op_successes(string attach)
    {
        using var lab = new LabGuard(Example, ExampleGuests, attach: attach);
        foreach (var name in new[] { "veth300i0", "br0", "eth0", "lo" })
        {
            var r = lab.MicrosegResult("apply", name);
            Assert.True(r.ExitCode == 0, $"apply {name}: exit {r.ExitCode}: {r.Stderr}");
            Assert.Contains("nothing to do", r.Stdout);
        }
        // An assigned NIC that does not exist cannot be enforced: non-zero.
        var missing = lab.Lab.Commit(Example + "\nassignment: vm555i0\n\tvmid 555\n\tiface 0\n\tgroup db\n");
        Assert.True(missing.Version > 1);
        var r2 = lab.MicrosegResult("apply", "veth555i0");
        Assert.Equal(1, r2.ExitCode);
        Assert.Contains("veth555i0", r2.Stderr);
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void Reapply_without_change_writes_nothing_and_traffic_keeps_flowing(string attach)
    {
        using var lab = new LabGuard(Example, ExampleGuests, attach: attach);
        var before = lab.Udp();
        var output = lab.Microseg("apply");
        Assert.Contains("programs reused", output);
        Assert.Contains("maps: verdicts +0 -0, nic_group +0 -0; links +0 ~0 -0", output);
        Assert.Equal(before, lab.Udp());
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void Invalid_snapshot_exits_non_zero_and_leaves_enforcement_as_it_was(string attach)
    {
        using var lab = new LabGuard(Example, ExampleGuests, attach: attach);
        var before = lab.Udp();
        // What is loaded and attached (group names need a valid snapshot, marks do not).
        string Policy()
        {
            var p = JsonDocument.Parse(lab.Microseg("status", "--json")).RootElement.GetProperty("policy");
            var nics = p.GetProperty("nics").EnumerateArray().Select(n =>
                $"{n.GetProperty("ifindex")}:{n.GetProperty("mark")}:{n.GetProperty("ingress")}:{n.GetProperty("egress")}");
            return $"{p.GetProperty("ingress_program_id")} {p.GetProperty("egress_program_id")} {p.GetProperty("maps").GetRawText()} {string.Join(",", nics)}";
        }
        var statusBefore = Policy();
        var running = Path.Combine(lab.Lab.ConfigDirectory, "running-config.json");
        var broken = File.ReadAllText(running).Replace("\"group\": \"db\"", "\"group\": \"nosuchgroup\"");
        File.WriteAllText(running, broken);

        var r = lab.MicrosegResult("apply");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("nosuchgroup", r.Stderr);
        Assert.Equal(statusBefore, Policy());
        Assert.Contains("snapshot is invalid", lab.Microseg("status"));
        Assert.Equal(before, lab.Udp());
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void Clear_removes_every_link_and_pin(string attach)
    {
        using var lab = new LabGuard(Example, ExampleGuests, attach: attach);
        Assert.False(lab.Udp()[("ct200", "ct101")]);
        var output = lab.Microseg("clear");
        Assert.Contains("6 links detached", output);
        Assert.False(Directory.Exists(lab.Lab.BpffsRoot(lab.Host)), "the pin root is gone");
        Assert.False(Directory.Exists(Path.Combine(lab.Lab.RunDirectory(lab.Host), "policy")), "the run state is gone");
        // Nothing enforces any more: what was denied now passes.
        Assert.True(lab.Udp()[("ct200", "ct101")]);
        using var status = JsonDocument.Parse(lab.Microseg("status", "--json"));
        Assert.False(status.RootElement.GetProperty("policy").GetProperty("loaded").GetBoolean());
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void A_deleted_nic_leaves_a_defunct_link_that_the_next_apply_reclaims_even_on_a_recycled_ifindex(string attach)
    {
        using var lab = new LabGuard(Example, ExampleGuests, attach: attach);
        var wol = lab.Guest("ct101");
        var hostNs = lab.Lab.Namespace("node1");
        var ifindex = int.Parse(Shell.Ip("-n", hostNs, "-o", "link", "show", wol.HostNic).Split(':')[0]);
        Shell.Ip("-n", hostNs, "link", "del", wol.HostNic);

        var status = lab.Microseg("status");
        // A pinned tcx link outlives its netdev; a tc filter goes with it, leaving the NIC's group.
        Assert.Contains(attach == "tcx" ? $"outlived its netdev (ifindex {ifindex})" : $"ifindex {ifindex} has a group but is not fully attached", status);

        // The same ifindex comes back for the same NIC (as the kernel may recycle it).
        Shell.Ip("-n", hostNs, "link", "add", wol.HostNic, "index", ifindex.ToString(), "type", "veth", "peer", "name", wol.GuestNic, "netns", lab.Lab.Namespace(wol.Name));
        Shell.Ip("-n", lab.Lab.Namespace(wol.Name), "link", "set", wol.GuestNic, "address", wol.Mac);
        Shell.Ip("-n", lab.Lab.Namespace(wol.Name), "addr", "add", wol.Address, "dev", wol.GuestNic);
        Shell.Ip("-n", lab.Lab.Namespace(wol.Name), "link", "set", wol.GuestNic, "up");
        Shell.Ip("-n", hostNs, "link", "set", wol.HostNic, "master", "br0", "up");
        // The stale pin names this ifindex but its link is dead: db -> wol passes unenforced.
        Assert.True(lab.Udp()[("ct200", "ct101")]);

        var output = lab.Microseg("apply", wol.HostNic);
        Assert.Contains($"enforced 1 NIC: {wol.HostNic} (wol)", output);
        Assert.False(lab.Udp()[("ct200", "ct101")]);
        Assert.DoesNotContain("outlived", lab.Microseg("status"));
    }
}
