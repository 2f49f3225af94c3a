// `microseg monitor --json` (the built binary) on real guests and real packets: every kind of
// drop with its attribution (a deny rule, default deny, infrastructure traffic with `infra 0`,
// a packet that only looks like a reply), across two hosts (the receiving host's rule decides),
// new allowed flows with --flows, the filters, errors, and a flood limited to the rate.
using System.Text.Json;
using Microseg.Agent.Observe;
using Microseg.Bpf.Abi;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class MonitorTests
{
    /// <summary>web -> db allowed, app -> db denied by a rule, nothing else; ops without
    /// infrastructure traffic (so it cannot even resolve its neighbours).</summary>
    public const string Policy = """
        group: web
        	mark 10

        group: db
        	mark 20

        group: app
        	mark 30

        group: ops
        	mark 40
        	infra 0

        rule: p10-20
        	src web
        	dst db
        	action allow

        rule: p30-20
        	src app
        	dst db
        	action deny

        assignment: vm110i0
        	vmid 110
        	iface 0
        	group web

        assignment: vm120i0
        	vmid 120
        	iface 0
        	group db

        assignment: vm130i0
        	vmid 130
        	iface 0
        	group app

        assignment: vm140i0
        	vmid 140
        	iface 0
        	group ops

        """;

    private static readonly (string, long, long)[] Guests = [("web", 110, 0), ("db", 120, 0), ("app", 130, 0), ("ops", 140, 0)];

    private static string? Text(JsonElement e, string name) => MonitorProcess.Text(e, name);

    private static Predicate<JsonElement> Udp(int sport, int dport) =>
        e => Text(e, "proto") == "udp" && Text(e, "sport") == sport.ToString() && Text(e, "dport") == dport.ToString();

    [KernelFact]
    public void Each_kind_of_drop_shows_with_its_nic_groups_addresses_and_deciding_rule()
    {
        using var lab = new LabGuard(Policy, Guests);
        var (web, db, app, ops) = (lab.Guest("web"), lab.Guest("db"), lab.Guest("app"), lab.Guest("ops"));
        var flows = new FlowProbes(lab.Lab);
        var hostNs = lab.Lab.Namespace(lab.Host.Name);
        Shell.Ip("-n", hostNs, "addr", "add", "10.78.0.1/16", "dev", lab.Host.Bridge);
        using var monitor = MonitorProcess.Start(lab.Lab, lab.Host, "--json");

        Assert.False(flows.UdpArrives(app, db, 7501, 7502));       // the deny rule
        Assert.False(flows.UdpArrives(app, web, 7503, 7504));      // no rule: default deny
        Assert.False(flows.UdpArrives(db, web, 7418, 7419));       // looks like a reply; web opened nothing
        Assert.False(flows.BareTcpAckArrives(db, web, 7412, 7413));
        Assert.True(flows.UdpArrives(web, db, 7505, 7506));        // allowed: no event without --flows
        // ops resolves the host's address: the host's (untagged) ARP reply is infrastructure
        // traffic, off for ops.
        Shell.Run("ip", "netns", "exec", lab.Lab.Namespace(ops.Name), "ping", "-n", "-q", "-c", "1", "-W", "1", "10.78.0.1");
        Predicate<JsonElement> arpReply = e => Text(e, "nic") == ops.HostNic && Text(e, "src_group") is null && Text(e, "proto") is null;
        Assert.True(monitor.WaitFor(arpReply), "no event for the ARP reply to ops: " + string.Join('\n', monitor.Lines));
        Assert.True(monitor.WaitFor(Udp(7501, 7502)) && monitor.WaitFor(Udp(7418, 7419)), string.Join('\n', monitor.Lines));

        Assert.Equal(0, monitor.Interrupt());
        var events = monitor.Events;
        var rule = Assert.Single(events, Udp(7501, 7502));
        Assert.Equal(("drop", "p30-20", db.HostNic, "app", "db"), (Text(rule, "verdict"), Text(rule, "reason"), Text(rule, "nic"), Text(rule, "src_group"), Text(rule, "dst_group")));
        Assert.Equal((app.Ip.ToString(), db.Ip.ToString()), (Text(rule, "src"), Text(rule, "dst")));
        Assert.InRange(rule.GetProperty("len").GetInt32(), 14 + 20 + 8, 200);
        Assert.InRange(DateTimeOffset.Parse(Text(rule, "time")!, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow);

        var defaultDeny = Assert.Single(events, Udp(7503, 7504));
        Assert.Equal(("drop", "default-deny", web.HostNic, "app", "web"), (Text(defaultDeny, "verdict"), Text(defaultDeny, "reason"), Text(defaultDeny, "nic"), Text(defaultDeny, "src_group"), Text(defaultDeny, "dst_group")));

        var replyLooking = Assert.Single(events, Udp(7418, 7419));
        Assert.Equal(("drop", "default-deny", "db", "web"), (Text(replyLooking, "verdict"), Text(replyLooking, "reason"), Text(replyLooking, "src_group"), Text(replyLooking, "dst_group")));
        var ack = Assert.Single(events, e => Text(e, "proto") == "tcp" && Text(e, "sport") == "7412");
        Assert.Equal(("drop", "default-deny", "7413"), (Text(ack, "verdict"), Text(ack, "reason"), Text(ack, "dport")));

        var arp = events.First(e => arpReply(e));
        Assert.Equal(("drop", "default-deny", "ops", 42), (Text(arp, "verdict"), Text(arp, "reason"), Text(arp, "dst_group"), arp.GetProperty("len").GetInt32()));
        Assert.Equal((null, null, null), (Text(arp, "src"), Text(arp, "dst"), Text(arp, "sport")));

        Assert.DoesNotContain(events, Udp(7505, 7506));
        Assert.DoesNotContain(events, e => Text(e, "verdict") != "drop");
        Assert.Equal(0UL, monitor.Lost);
    }

    [KernelFact]
    public void Flows_shows_new_allowed_flows_while_it_runs_and_the_filters_choose_what_is_shown()
    {
        using var lab = new LabGuard(Policy, Guests);
        var (web, db, app) = (lab.Guest("web"), lab.Guest("db"), lab.Guest("app"));
        var flows = new FlowProbes(lab.Lab);
        var options = new AgentOptions(lab.Lab.BpffsRoot(lab.Host), lab.Lab.RunDirectory(lab.Host), lab.Host.Name);
        Assert.Equal(0u, MonitorSettings.Current(options).Flags);

        using (var monitor = MonitorProcess.Start(lab.Lab, lab.Host, "--json", "--flows", "--nic", db.HostNic))
        {
            Assert.Equal(PolicyAbi.MonFlagFlows, MonitorSettings.Current(options).Flags);
            Assert.True(flows.TcpConnects(web, db, 7601));
            Assert.False(flows.UdpArrives(app, db, 7602, 7603));
            Assert.False(flows.UdpArrives(app, web, 7604, 7605)); // another NIC: not shown
            Assert.True(monitor.WaitFor(Udp(7602, 7603)), string.Join('\n', monitor.Lines));

            Assert.Equal(0, monitor.Terminate());
            var events = monitor.Events;
            var syn = Assert.Single(events, e => Text(e, "proto") == "tcp" && Text(e, "dport") == "7601");
            Assert.Equal(("allow", "p10-20", "web", "db", db.HostNic), (Text(syn, "verdict"), Text(syn, "reason"), Text(syn, "src_group"), Text(syn, "dst_group"), Text(syn, "nic")));
            Assert.Single(events, Udp(7602, 7603));
            Assert.All(events, e => Assert.Equal(db.HostNic, Text(e, "nic")));
        }
        // The flows report is off again once the monitor is gone.
        Assert.Equal(0u, MonitorSettings.Current(options).Flags);

        using (var monitor = MonitorProcess.Start(lab.Lab, lab.Host, "--json", "--verdict", "drop", "--group", "app"))
        {
            Assert.Equal(0u, MonitorSettings.Current(options).Flags);
            Assert.True(flows.TcpConnects(web, db, 7606));
            Assert.False(flows.UdpArrives(db, web, 7607, 7608));   // neither end is app
            Assert.False(flows.UdpArrives(app, web, 7609, 7610));
            Assert.False(flows.UdpArrives(app, db, 7611, 7612));
            Assert.True(monitor.WaitFor(Udp(7611, 7612)), string.Join('\n', monitor.Lines));

            Assert.Equal(0, monitor.Interrupt());
            var events = monitor.Events;
            var udp = events.Where(e => Text(e, "proto") == "udp").ToList();
            Assert.Equal([(7609, 7610), (7611, 7612)], udp.Select(e => (e.GetProperty("sport").GetInt32(), e.GetProperty("dport").GetInt32())).Order());
            Assert.All(events, e => Assert.True(Text(e, "src_group") == "app" || Text(e, "dst_group") == "app", e.ToString()));
            Assert.All(events, e => Assert.Equal("drop", Text(e, "verdict")));
        }
    }

    [KernelFact]
    public void A_flows_monitor_killed_outright_leaves_the_flag_to_the_next_one_to_clear()
    {
        using var lab = new LabGuard(Policy, Guests);
        var options = new AgentOptions(lab.Lab.BpffsRoot(lab.Host), lab.Lab.RunDirectory(lab.Host), lab.Host.Name);
        using (var killed = MonitorProcess.Start(lab.Lab, lab.Host, "--json", "--flows")) { } // Dispose kills it (SIGKILL)
        Assert.Equal(PolicyAbi.MonFlagFlows, MonitorSettings.Current(options).Flags);

        using (var next = MonitorProcess.Start(lab.Lab, lab.Host, "--json", "--flows"))
            Assert.Equal(0, next.Interrupt());

        Assert.Equal(0u, MonitorSettings.Current(options).Flags);
    }

    [KernelFact]
    public void Bad_filters_a_second_monitor_and_a_host_without_programs_are_one_line_errors()
    {
        using var lab = new LabGuard(Policy, Guests);

        var group = lab.MicrosegResult("monitor", "--group", "nosuch");
        var nic = lab.MicrosegResult("monitor", "--nic", "veth999i0");
        var verdict = lab.MicrosegResult("monitor", "--verdict", "dropped");
        Assert.Equal((1, "microseg: --group nosuch: no such group in the committed configuration\n"), (group.ExitCode, group.Stderr));
        Assert.Equal((1, "microseg: --nic veth999i0: no such interface on this host\n"), (nic.ExitCode, nic.Stderr));
        Assert.Equal(2, verdict.ExitCode);
        Assert.Contains("dropped", verdict.Stderr);

        using (var first = MonitorProcess.Start(lab.Lab, lab.Host, "--json"))
        {
            var second = lab.MicrosegResult("monitor", "--json");
            Assert.Equal(1, second.ExitCode);
            Assert.StartsWith("microseg: another monitor is reading this host's verdict events", second.Stderr);
            Assert.Equal(0, first.Interrupt());
        }

        using var empty = new TempDirectory("microseg-monitor-empty-");
        var none = Shell.Run(lab.Lab.MicrosegBinary, "monitor", "--bpffs", empty.File("bpffs"), "--run-dir", empty.File("run"), "--config-dir", empty.File("config"));
        Assert.Equal(1, none.ExitCode);
        Assert.Equal($"microseg: nothing to monitor: no policy programs are loaded under {empty.File("bpffs")}/policy (run 'microseg apply' or the agent)\n", none.Stderr);
    }

    [KernelFact]
    public void Across_two_hosts_the_receiving_hosts_rule_decides_and_its_monitor_shows_it()
    {
        var policy = CarrierLab.Policy + """
            rule: p30-20
            	src app
            	dst db
            	action deny

            """;
        using var lab = new CarrierLab(LabCarrier.VxlanGbp, policy);
        var (web, app, none, db) = (lab.Guest("web"), lab.Guest("app"), lab.Guest("none"), lab.Guest("db"));
        var flows = new FlowProbes(lab.Lab);
        using var onB = MonitorProcess.Start(lab.Lab, lab.B, "--json");
        using var onA = MonitorProcess.Start(lab.Lab, lab.A, "--json");

        Assert.False(flows.UdpArrives(app, db, 7701, 7702));   // nodeb: app -> db by rule p30-20
        Assert.False(flows.UdpArrives(none, db, 7703, 7704));  // nodeb: untagged, default deny
        Assert.True(flows.UdpArrives(web, db, 7705, 7706));
        Assert.False(flows.UdpArrives(db, app, 7707, 7708));   // nodea: db -> app, default deny
        Assert.True(onB.WaitFor(Udp(7703, 7704)) && onA.WaitFor(Udp(7707, 7708)), string.Join('\n', onB.Lines.Concat(onA.Lines)));

        Assert.Equal(0, onB.Interrupt());
        Assert.Equal(0, onA.Interrupt());
        var rule = Assert.Single(onB.Events, Udp(7701, 7702));
        Assert.Equal(("drop", "p30-20", "app", "db", db.HostNic), (Text(rule, "verdict"), Text(rule, "reason"), Text(rule, "src_group"), Text(rule, "dst_group"), Text(rule, "nic")));
        Assert.Equal((app.Ip.ToString(), db.Ip.ToString()), (Text(rule, "src"), Text(rule, "dst")));
        var untagged = Assert.Single(onB.Events, Udp(7703, 7704));
        Assert.Equal(("drop", "default-deny", null, "db"), (Text(untagged, "verdict"), Text(untagged, "reason"), Text(untagged, "src_group"), Text(untagged, "dst_group")));
        var back = Assert.Single(onA.Events, Udp(7707, 7708));
        Assert.Equal(("drop", "default-deny", "db", "app", app.HostNic), (Text(back, "verdict"), Text(back, "reason"), Text(back, "src_group"), Text(back, "dst_group"), Text(back, "nic")));
        // Each host reports what it decided, nothing of the other's.
        Assert.DoesNotContain(onA.Events, Udp(7701, 7702));
        Assert.DoesNotContain(onB.Events, Udp(7707, 7708));
        Assert.DoesNotContain(onB.Events, Udp(7705, 7706));
    }

    [KernelFact]
    public void A_flood_of_denied_packets_gets_events_at_the_configured_rate_and_the_rest_counted_as_lost()
    {
        const int Rate = 100, Burst = 200, Seconds = 3;
        using var lab = new LabGuard(Policy, Guests);
        var (db, app) = (lab.Guest("db"), lab.Guest("app"));
        using var dir = new TempDirectory("microseg-flood-");
        var flood = UdpFlood.Build(dir);
        using var monitor = MonitorProcess.Start(lab.Lab, lab.Host, "--json");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var sent = UdpFlood.Run(lab.Lab, app, flood, db.Ip.ToString(), 7802, Seconds, sport: 7801);
        double floodSeconds = clock.Elapsed.TotalSeconds; // the senders start apart on a loaded machine: their union
        // The monitor shows what was lost once a second.
        Assert.True(Poll.Until(() => monitor.Lost > 0, TimeSpan.FromSeconds(5)), string.Join('\n', monitor.Lines.TakeLast(5)));
        Thread.Sleep(1500);
        Assert.Equal(0, monitor.Interrupt());

        var events = monitor.Events.Count(e => Udp(7801, 7802)(e));
        ulong lost = monitor.Lost;
        // The bucket: at most rate × time + burst (a few more where CPUs race on the bucket), and
        // not far below the rate; every packet that reached db's NIC is an event or lost. The time
        // is from the first sender's start to the last one's end, at most (they start apart).
        Assert.InRange(events, Rate * Seconds / 2, (int)(Rate * (Math.Max(Seconds, floodSeconds) + 1)) + Burst + 16);
        // (The lost count is db's NIC's: a few other packets to it, neighbour discovery say, count too.)
        Assert.InRange((ulong)events + lost, (ulong)(sent.Packets * 0.5), (ulong)sent.Packets + 100);
        // A flood far above what the bucket lets through (its packets/s on this machine are the
        // monitor-flood benchmark's to measure, not a test's).
        Assert.True(sent.Packets >= 20 * (Rate * (Seconds + 1) + Burst), $"only {sent.Packets} packets sent ({sent.PacketsPerSecond:N0}/s)");
        Assert.True(lost > 10UL * (ulong)events, $"{events} events, {lost} lost");
    }
}
