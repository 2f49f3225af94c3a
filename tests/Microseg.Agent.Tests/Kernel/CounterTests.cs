// Counters, audit and verdict events with real packets between lab guests: exactly N packets of
// each kind (rule allow, rule deny, default deny, reply, infrastructure) sent, and `microseg
// stats` shows exactly N on the right rule or group and nothing anywhere else; counters survive
// an unrelated commit; a group that audits lets what a rule denies through and counts it as
// audit; every drop is one record on the events ring, and the per-NIC token bucket caps them.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microseg.Agent.Observe;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Lab;
using Microseg.Netlink;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class CounterTests
{
    public const string Policy = """
        group: web
        	mark 10

        group: db
        	mark 20

        group: ops
        	mark 30

        rule: p10-20
        	src web
        	dst db
        	action allow

        rule: p30-20
        	src ops
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
        	group ops

        """;

    private static readonly (string, long, long)[] Guests = [("web", 110, 0), ("db", 120, 0), ("ops", 130, 0)];

    /// <summary>UDP with 10 bytes of payload: 14 + 20 + 8 + 10 bytes on the wire.</summary>
    private const int Payload = 10, FrameBytes = 52;

    [KernelFact]
    public void Stats_count_exactly_the_packets_of_each_kind_on_the_deciding_rule_or_group()
    {
        using var lab = new LabGuard(Policy, Guests, ipv6: false);
        var (web, db, ops) = (lab.Guest("web"), lab.Guest("db"), lab.Guest("ops"));
        StaticNeighbours(lab);
        var all = Stats(lab);
        Assert.Equal(
            [("allow", "p10-20", "db"), ("deny", "p30-20", "db"), ("default-deny", null, "db"), ("reply", null, "db"), ("infra", null, "db"),
             ("default-deny", null, "ops"), ("reply", null, "ops"), ("infra", null, "ops"),
             ("default-deny", null, "web"), ("reply", null, "web"), ("infra", null, "web")],
            all.Keys.ToList());

        using var ring = new EventsRing(Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy", PolicyAbi.EventsMap));
        ring.Drain(0);

        // Rule allow: 5 from web to db.
        ExpectDelta(lab, () => Assert.Equal(5, Send(lab, web, db, 0, 7601, 5)), new() { [("allow", "p10-20", "db")] = 5 });
        Assert.Empty(ring.Drain());
        // Rule deny: 3 from ops to db, each one drop event naming the rule's slot.
        ExpectDelta(lab, () => Assert.Equal(0, Send(lab, ops, db, 7602, 7602, 3)), new() { [("deny", "p30-20", "db")] = 3 });
        var drops = ring.Drain();
        Assert.Equal(3, drops.Count);
        var names = new VerdictNames(Options(lab), lab.Lab.Committed(), new HostInterfaces(lab.Lab.Namespace(lab.Host.Name)));
        var dbIndex = IfIndex(lab, db);
        foreach (var e in drops)
        {
            Assert.Equal((PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonRule), (e.Verdict, e.Reason));
            Assert.Equal("p30-20", names.Rule(e.Slot));
            Assert.Equal(("ops", "db", db.HostNic), (names.Group(e.Src), names.Group(e.Dst), names.Nic((int)e.IfIndex)));
            Assert.Equal((dbIndex, (uint)FrameBytes), (e.IfIndex, e.Len));
            Assert.Equal((PolicyAbi.FlowFamilyIpv4, (byte)17), (e.Family, e.Proto));
            Assert.Equal((ops.Ip, db.Ip, 7602, 7602), (e.Source, e.Destination, (int)e.SourcePort, (int)e.DestinationPort));
        }
        // Default deny: 4 from db to web (no rule db -> web).
        ExpectDelta(lab, () => Assert.Equal(0, Send(lab, db, web, 7603, 7603, 4)), new() { [("default-deny", null, "web")] = 4 });
        drops = ring.Drain();
        Assert.Equal(4, drops.Count);
        Assert.All(drops, e => Assert.Equal((PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonDefaultDeny, 0u, (ushort)20, (ushort)10),
            (e.Verdict, e.Reason, e.Slot, e.Src, e.Dst)));
        // Replies: web opens a flow to db (1 allowed), db answers twice (2 replies to web).
        ExpectDelta(lab, () =>
        {
            Assert.Equal(1, Send(lab, web, db, 7604, 7605, 1));
            Assert.Equal(2, Send(lab, db, web, 7605, 7604, 2));
        }, new() { [("allow", "p10-20", "db")] = 1, [("reply", null, "web")] = 2 });
        // Infrastructure: DHCP server -> client datagrams from db to web (denied by the rules).
        ExpectDelta(lab, () => Assert.Equal(3, Send(lab, db, web, 67, 68, 3)), new() { [("infra", null, "web")] = 3 });
        Assert.Empty(ring.Drain());

        // An unrelated commit (a new group and rule) resets no counter.
        var before = Stats(lab);
        lab.Lab.Commit(Policy + "group: extra\n\tmark 40\n\nrule: p40-10\n\tsrc extra\n\tdst web\n\taction allow\n");
        var apply = lab.MicrosegResult("apply");
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        // (Not reset: no counter went down, and the six allowed datagrams are still counted. A
        // stray packet of a guest's own may add to one, as it once did in CI: one 90-byte MLD
        // report, so "not reset" is what is asserted here; the exact counts were above.)
        var after = Stats(lab);
        Assert.True(after[("allow", "p10-20", "db")].Packets >= 6, $"allow p10-20 db after the commit: {after[("allow", "p10-20", "db")]}");
        foreach (var (key, value) in before)
            Assert.True(after[key].Packets >= value.Packets && after[key].Bytes >= value.Bytes, $"{key}: {value} before the commit, {after[key]} after");

        // The one-shot CLI table: one row per counter, with its group and the numbers of the
        // JSON form read right before and after it (retried until nothing moved in between).
        string table = "", nicTable = "";
        var quiet = after;
        for (int attempt = 0; ; attempt++)
        {
            var s0 = Stats(lab);
            table = lab.Microseg("stats", "--group", "db");
            nicTable = lab.Microseg("stats", "--nic", web.HostNic);
            quiet = Stats(lab);
            if (s0.All(r => quiet[r.Key] == r.Value)) break;
            Assert.True(attempt < 10, "the counters kept moving while the tables were read");
            Thread.Sleep(500);
        }
        string Row((ulong Packets, ulong Bytes) v) => $@"\s+{v.Packets}\s+{v.Bytes}";
        Assert.Contains("KIND", table);
        Assert.Matches(@"allow\s+p10-20\s+db" + Row(quiet[("allow", "p10-20", "db")]), table);
        Assert.Matches(@"deny\s+p30-20\s+db" + Row(quiet[("deny", "p30-20", "db")]), table);
        Assert.Equal((3UL, 3UL * FrameBytes), quiet[("deny", "p30-20", "db")]);
        Assert.DoesNotContain("web", table);
        Assert.Matches(@"reply\s+-\s+web" + Row(quiet[("reply", null, "web")]), nicTable);
        Assert.Equal((2UL, 2UL * FrameBytes), quiet[("reply", null, "web")]);
    }

    [KernelFact]
    public void Counters_survive_a_map_schema_migration()
    {
        using var lab = new LabGuard(Policy, Guests, ipv6: false);
        var (web, db) = (lab.Guest("web"), lab.Guest("db"));
        StaticNeighbours(lab);
        ExpectDelta(lab, () => Assert.Equal(4, Send(lab, web, db, 0, 7631, 4)), new() { [("allow", "p10-20", "db")] = 4 });
        var before = Stats(lab);
        // This build as the next schema: new maps beside the old, the links switched, the old maps gone.
        var env = new Dictionary<string, string>
        {
            ["MICROSEG_TEST_POLICY_OBJECT"] = RepoPaths.BpfObject("policy.variant.bpf.o"),
            ["MICROSEG_TEST_POLICY_SCHEMA"] = (PolicyAbi.SchemaVersion + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var r = lab.Lab.MicrosegResult(lab.Host, env, "apply", "-v");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("programs migrated", r.Stdout);
        var after = lab.Lab.MicrosegResult(lab.Host, env, "stats", "--json");
        Assert.True(after.ExitCode == 0, after.Stderr);
        using var doc = JsonDocument.Parse(after.Stdout);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray()
            .ToDictionary(x => (x.GetProperty("kind").GetString()!, x.GetProperty("rule").GetString(), x.GetProperty("group").GetString()!),
                x => (x.GetProperty("packets").GetUInt64(), x.GetProperty("bytes").GetUInt64()));
        Assert.Equal(before, rows);
        // And the new programs count on.
        Assert.Equal(2, Send(lab, web, db, 0, 7632, 2));
        Assert.Equal(before[("allow", "p10-20", "db")].Packets + 2, Stats(lab)[("allow", "p10-20", "db")].Packets);
    }

    [KernelFact]
    public void A_group_that_audits_lets_what_a_rule_denies_through_and_counts_it_as_audit()
    {
        using var lab = new LabGuard(Policy.Replace("group: db\n\tmark 20\n", "group: db\n\tmark 20\n\taudit 1\n"), Guests, ipv6: false);
        var (db, ops) = (lab.Guest("db"), lab.Guest("ops"));
        StaticNeighbours(lab);
        using var ring = new EventsRing(Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy", PolicyAbi.EventsMap));
        ring.Drain(0);
        int received = 0;
        ExpectDelta(lab, () => received = Send(lab, ops, db, 7611, 7611, 3), new() { [("audit", "p30-20", "db")] = 3 });
        Assert.Equal(3, received);
        var events = ring.Drain();
        Assert.Equal(3, events.Count);
        var names = new VerdictNames(Options(lab), lab.Lab.Committed(), new HostInterfaces(lab.Lab.Namespace(lab.Host.Name)));
        Assert.All(events, e => Assert.Equal((PolicyAbi.MonVerdictAudit, PolicyAbi.MonReasonRule, "p30-20"), (e.Verdict, e.Reason, names.Rule(e.Slot))));
        // db's default deny is an audit counter too; no deny row is left for db.
        var stats = Stats(lab);
        Assert.Contains(("audit", null, "db"), stats.Keys);
        Assert.DoesNotContain(stats.Keys, k => k.Group == "db" && k.Kind is "deny" or "default-deny");
    }

    [KernelFact]
    public void The_token_bucket_caps_events_per_nic_and_counts_the_lost_ones()
    {
        using var lab = new LabGuard(Policy, Guests, ipv6: false);
        var (db, ops) = (lab.Guest("db"), lab.Guest("ops"));
        StaticNeighbours(lab);
        var apply = lab.Lab.MicrosegResult(lab.Host, new Dictionary<string, string> { [MonitorSettings.RateVariable] = "20", [MonitorSettings.BurstVariable] = "10" }, "apply");
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        using var ring = new EventsRing(Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy", PolicyAbi.EventsMap));
        using var monitor = BpfHashMap<uint, MonitorState>.OpenPinned(Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy", PolicyAbi.MonitorMap));
        // The bucket is full again after a quiet second; what the NIC sent before is the baseline.
        Thread.Sleep(1000);
        ring.Drain(0);
        var before = monitor.TryLookup(IfIndex(lab, db), out var state0) ? state0 : default;
        const int Flood = 500;
        var clock = Stopwatch.StartNew();
        Send(lab, ops, db, 7621, 7621, Flood);
        var seconds = clock.Elapsed.TotalSeconds;
        var events = ring.Drain();
        Assert.True(monitor.TryLookup(IfIndex(lab, db), out var state), "db's NIC has a bucket");
        // Burst 10, then 20 a second while the flood lasts (one more for a partly elapsed interval).
        Assert.InRange(events.Count, 10, 10 + (int)(20 * seconds) + 1);
        Assert.Equal((ulong)events.Count, state.Sent - before.Sent);
        Assert.True((ulong)Flood == state.Sent - before.Sent + state.Lost - before.Lost,
            $"{state.Sent - before.Sent} sent + {state.Lost - before.Lost} lost, not {Flood}; events not of the flood: " +
            string.Join("; ", events.Where(e => e.Proto != 17 || e.DestinationPort != 7621).Select(e => e.ToString())));
        // Every drop was counted all the same.
        Assert.Equal((ulong)Flood, Stats(lab)[("deny", "p30-20", "db")].Packets);
    }

    /// <summary>The links of the lab host's namespace.</summary>
    private sealed class HostInterfaces(string ns) : Microseg.Agent.Subsystems.IInterfaceSource
    {
        public IReadOnlyList<LinkInfo> Links() => NetworkNamespace.Run(ns, () => new Microseg.Agent.Subsystems.NetlinkInterfaces().Links());
    }

    private static AgentOptions Options(LabGuard lab) => new(lab.Lab.BpffsRoot(lab.Host), lab.Lab.RunDirectory(lab.Host), lab.Host.Name);

    private static uint IfIndex(LabGuard lab, LabGuest guest) =>
        (uint)NetworkNamespace.Run(lab.Lab.Namespace(lab.Host.Name), () => { using var nl = new RtNetlink(); return nl.GetLinks().First(l => l.Name == guest.HostNic).IfIndex; });

    /// <summary>Nothing on the wire but what a test sends: the labs here have IPv6 off from
    /// their creation (no MLD reports or router solicitations; turning it off later still let
    /// one report through now and then, seen in CI), and this adds permanent neighbour entries
    /// between the guests (no ARP) and static bridge entries for their addresses (a guest that
    /// never sent a frame is unknown to the bridge, which would flood frames for it to every
    /// NIC); then waits until no counter moves for 2.5 s.</summary>
    private static void StaticNeighbours(LabGuard lab)
    {
        Assert.False(lab.Lab.Ipv6, "the lab must be made with ipv6: false");
        foreach (var a in lab.Lab.Spec.Guests)
        {
            Shell.Check("bridge", "-n", lab.Lab.Namespace(lab.Host.Name), "fdb", "replace", a.Mac, "dev", a.HostNic, "master", "static");
            foreach (var b in lab.Lab.Spec.Guests.Where(b => b != a))
                Shell.Ip("-n", lab.Lab.Namespace(a.Name), "neigh", "replace", b.Ip.ToString(), "lladdr", b.Mac, "nud", "permanent", "dev", a.GuestNic);
        }
        var last = Stats(lab);
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline;)
        {
            Thread.Sleep(2500);
            var now = Stats(lab);
            if (now.All(r => last.TryGetValue(r.Key, out var v) && v == r.Value)) return;
            last = now;
        }
        Assert.Fail("the counters never stayed still for 2.5 s within 30 s: something in the lab keeps sending");
    }

    /// <summary>count UDP datagrams of <see cref="Payload"/> bytes from src:sport (0: any) to
    /// dst:dport, with a socket bound there while they arrive: no ICMP port unreachable goes back
    /// to be counted. Returns how many arrived.</summary>
    private static int Send(LabGuard lab, LabGuest src, LabGuest dst, int sport, int dport, int count)
    {
        using var receiver = NetworkNamespace.Run(lab.Lab.Namespace(dst.Name), () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            UdpStream.ForceReceiveBuffer(s, 4 << 20);
            s.Bind(new IPEndPoint(dst.Ip, dport));
            return s;
        });
        using (var socket = NetworkNamespace.Run(lab.Lab.Namespace(src.Name), () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(src.Ip, sport));
            return s;
        }))
        {
            var target = new IPEndPoint(dst.Ip, dport);
            for (int i = 0; i < count; i++) socket.SendTo(new byte[Payload], target);
        }
        int received = 0;
        var buffer = new byte[64];
        while (received < count && receiver.Poll(TimeSpan.FromMilliseconds(received == 0 ? 400 : 200), SelectMode.SelectRead))
        {
            receiver.Receive(buffer);
            received++;
        }
        return received;
    }

    /// <summary>`stats --json` as (kind, rule, group) → (packets, bytes), in its order.</summary>
    private static Dictionary<(string Kind, string? Rule, string Group), (ulong Packets, ulong Bytes)> Stats(LabGuard lab)
    {
        using var doc = JsonDocument.Parse(lab.Microseg("stats", "--json"));
        Assert.Equal(lab.Host.Name, doc.RootElement.GetProperty("node").GetString());
        var rows = new Dictionary<(string, string?, string), (ulong, ulong)>();
        foreach (var r in doc.RootElement.GetProperty("rows").EnumerateArray())
            rows.Add((r.GetProperty("kind").GetString()!, r.GetProperty("rule").GetString(), r.GetProperty("group").GetString()!),
                (r.GetProperty("packets").GetUInt64(), r.GetProperty("bytes").GetUInt64()));
        return rows;
    }

    /// <summary>Runs <paramref name="act"/>; then every counter must have moved by exactly the
    /// expected packets (and FrameBytes each), and every other by nothing.</summary>
    private static void ExpectDelta(LabGuard lab, Action act, Dictionary<(string, string?, string), ulong> expected)
    {
        var before = Stats(lab);
        act();
        Dictionary<(string Kind, string? Rule, string Group), (ulong Packets, ulong Bytes)> after = before;
        // The packets are counted as they cross the veth; give the last ones a moment.
        for (var deadline = DateTime.UtcNow.AddSeconds(3); DateTime.UtcNow < deadline; Thread.Sleep(100))
        {
            after = Stats(lab);
            if (expected.All(e => after[e.Key].Packets - before[e.Key].Packets >= e.Value)) break;
        }
        Thread.Sleep(200);
        after = Stats(lab);
        foreach (var (key, (packets, bytes)) in after)
        {
            var want = expected.GetValueOrDefault(key);
            var (p0, b0) = before.GetValueOrDefault(key);
            Assert.True(packets - p0 == want && bytes - b0 == want * FrameBytes,
                $"{key}: {packets - p0} packets / {bytes - b0} bytes counted, expected {want} / {want * FrameBytes}");
        }
    }
}
