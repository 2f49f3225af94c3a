// Stateful replies and service rules on real guests, real packets: the opener of a flow gets its
// answers without a reverse rule (one host in both attach modes, and across two hosts over
// VXLAN-GBP and SRv6), related ICMP errors pass, packets that only look like replies do not, port
// rules decide within a group pair, and a full flow table never lets policy be bypassed.
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microseg.Agent.Policy;
using Microseg.Lab;
using Microseg.Netlink;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class StatefulTests
{
    /// <summary>Guest 110 in web (mark 10), guest 120 in db (mark 20).</summary>
    private const string WebAndDb110And120 = """
        group: web
        	mark 10

        group: db
        	mark 20

        assignment: vm110i0
        	vmid 110
        	iface 0
        	group web

        assignment: vm120i0
        	vmid 120
        	iface 0
        	group db

        """;

    /// <summary>Only web -> db is allowed; nothing allows db -> web.</summary>
    public const string WebToDb = WebAndDb110And120 + """
        rule: p10-20
        	src web
        	dst db
        	action allow

        """;

    private static readonly (string, long, long)[] WebAndDb = [("web", 110, 0), ("db", 120, 0)];

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void The_opener_of_a_flow_gets_its_replies_and_nothing_else_comes_back(string attach)
    {
        using var lab = new LabGuard(WebToDb, WebAndDb, attach: attach);
        var (web, db) = (lab.Guest("web"), lab.Guest("db"));
        AssertOneWayRoundTrips(lab.Lab, web, db);

        var flows = new FlowProbes(lab.Lab);
        // Related: db's kernel answers a datagram to a closed port with ICMP port unreachable.
        Assert.True(flows.PortUnreachableReturns(web, db, 7411), "ICMP port unreachable reaches web (related to its flow)");
        // Not replies: each of these passes web -> db (the rule: the probe works), none db -> web.
        Assert.True(flows.BareTcpAckArrives(web, db, 7412, 7413));
        Assert.False(flows.BareTcpAckArrives(db, web, 7413, 7412), "an unsolicited TCP ACK reached web");
        Assert.True(flows.UnsolicitedIcmpErrorArrives(web, db, 7414, 7415));
        Assert.False(flows.UnsolicitedIcmpErrorArrives(db, web, 7416, 7417), "an ICMP error about a flow web never opened reached web");
        Assert.False(flows.UdpArrives(db, web, 7418, 7419), "a reply-looking UDP datagram without a flow reached web");
        // Once web has sent 7419 -> db:7418, the same datagram is a reply and passes.
        Assert.True(flows.UdpArrives(web, db, 7419, 7418));
        Assert.True(flows.UdpArrives(db, web, 7418, 7419), "the reply to web's datagram did not pass");

        // status shows the table's fill, size and memory.
        using var status = JsonDocument.Parse(lab.Microseg("status", "--json"));
        var table = status.RootElement.GetProperty("policy").GetProperty("flow_table");
        Assert.InRange(table.GetProperty("entries").GetInt32(), 3, 100);
        Assert.Equal(PolicyCapacity.Maps.MaxFlows, table.GetProperty("max_entries").GetInt32());
        Assert.True(table.GetProperty("memlock_bytes").GetInt64() > 0);
        Assert.Matches(@"flows:     \d+ / 131,072 entries .*kernel memory [\d,]+ bytes", lab.Microseg("status"));
    }

    [KernelTheory]
    [InlineData("vxlan-gbp")]
    [InlineData("srv6")]
    public void Replies_cross_hosts_without_a_reverse_rule(string carrierName)
    {
        Assert.True(LabCarriers.TryParse(carrierName, out var carrier));
        // CarrierLab's policy without its db -> web rule.
        var policy = CarrierLab.Policy.Replace("rule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n", "");
        Assert.NotEqual(CarrierLab.Policy, policy);
        using var lab = new CarrierLab(carrier, policy + (carrier == LabCarrier.Srv6 ? CarrierLab.Srv6Bridge : ""));
        AssertOneWayRoundTrips(lab.Lab, lab.Guest("web"), lab.Guest("db"));
    }

    /// <summary>web opens TCP, UDP request/response and ICMP echo to db and gets the answers; db
    /// opening the same to web gets nothing through.</summary>
    private static void AssertOneWayRoundTrips(Microseg.Lab.Lab lab, LabGuest web, LabGuest db)
    {
        var probes = new Probes(lab);
        var tcp = probes.TcpConnect([web, db]);
        var ping = probes.Ping([web, db]);
        var flows = new FlowProbes(lab);
        Assert.True(tcp[(web.Name, db.Name)], "TCP web -> db");
        Assert.False(tcp[(db.Name, web.Name)], "TCP db -> web");
        Assert.True(ping[(web.Name, db.Name)], "ping web -> db");
        Assert.False(ping[(db.Name, web.Name)], "ping db -> web");
        Assert.Equal((true, true), flows.UdpExchange(web, db, 7401));
        Assert.Equal((false, false), flows.UdpExchange(db, web, 7402));
    }

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void A_port_rule_decides_within_its_group_pair_and_a_parent_allow_does_not_leak_through(string attach)
    {
        // web -> db: allow tcp/5432 (0,0,0), deny the rest (0,0,2); tier -> db allow (0,1,2)
        // loses to both for web and decides for tier's other child, batch.
        const string policy = """
            group: tier
            	mark 5

            group: web
            	mark 10
            	parent tier

            group: batch
            	mark 11
            	parent tier

            group: db
            	mark 20

            rule: p10-20-tcp5432
            	src web
            	dst db
            	proto tcp
            	dport 5432
            	action allow

            rule: p10-20
            	src web
            	dst db
            	action deny

            rule: p5-20
            	src tier
            	dst db
            	action allow

            assignment: vm110i0
            	vmid 110
            	iface 0
            	group web

            assignment: vm111i0
            	vmid 111
            	iface 0
            	group batch

            assignment: vm120i0
            	vmid 120
            	iface 0
            	group db

            """;
        using var lab = new LabGuard(policy, [("web", 110, 0), ("batch", 111, 0), ("db", 120, 0)], attach: attach);
        var (web, batch, db) = (lab.Guest("web"), lab.Guest("batch"), lab.Guest("db"));
        var flows = new FlowProbes(lab.Lab);
        Assert.True(flows.TcpConnects(web, db, 5432), "web -> db tcp/5432");
        Assert.False(flows.TcpConnects(web, db, 22), "web -> db tcp/22");
        Assert.False(flows.UdpExchange(web, db, 5432).Request, "web -> db udp/5432");
        Assert.False(new Probes(lab.Lab).Ping([web, db])[("web", "db")], "web -> db icmp");
        Assert.True(flows.TcpConnects(batch, db, 22), "batch -> db tcp/22 (tier -> db)");
        Assert.True(flows.UdpExchange(batch, db, 5432).Request, "batch -> db udp/5432 (tier -> db)");
        // The service entries are in the map: one for (db, web, tcp).
        using var status = JsonDocument.Parse(lab.Microseg("status", "--json"));
        Assert.Equal(1, status.RootElement.GetProperty("policy").GetProperty("maps").GetProperty("services").GetInt32());
        // And lab check agrees with the engine on every probe.
        var report = LabCheck.Run(lab.Lab);
        Assert.True(report.AllMatch, LabCheck.Render(lab.Lab, report));
    }

    /// <summary>web -> db: allow udp/PORT, deny the rest.</summary>
    private static string UdpPortOnly(int port) => WebAndDb110And120 + $"""
        rule: p10-20-udp{port}
        	src web
        	dst db
        	proto udp
        	dport {port}
        	action allow

        rule: p10-20
        	src web
        	dst db
        	action deny

        """;

    [KernelFact]
    public void A_changed_port_rule_decides_the_very_next_packet()
    {
        // Each CPU remembers its last services decision (pair, protocol, port) while nothing
        // changes the epoch; a new flow would (so one socket, one flow, all along, and 5432 the
        // last port asked). Datagrams to 5432 leave "allow" on the CPUs that sent them; the
        // commit that moves the rule to 5433 must void it, so the next datagram of the same flow
        // to 5432 is already dropped. (Without the epoch change after the services write, the
        // first datagram after the change passes: seen when this test was written.)
        using var lab = new LabGuard(UdpPortOnly(5432), WebAndDb);
        var (web, db) = (lab.Guest("web"), lab.Guest("db"));
        using var to5432 = NetworkNamespace.Run(lab.Lab.Namespace(db.Name), () => Bound(db.Ip, 5432));
        using var to5433 = NetworkNamespace.Run(lab.Lab.Namespace(db.Name), () => Bound(db.Ip, 5433));
        using var client = NetworkNamespace.Run(lab.Lab.Namespace(web.Name), () => Bound(web.Ip, 40123));
        bool Arrives(Socket server, int port)
        {
            client.SendTo("x"u8.ToArray(), new IPEndPoint(db.Ip, port));
            if (!server.Poll(TimeSpan.FromMilliseconds(500), SelectMode.SelectRead)) return false;
            server.Receive(new byte[16]);
            return true;
        }
        Assert.False(Arrives(to5433, 5433), "web -> db udp/5433 before the change");
        for (int i = 0; i < 200; i++)
            Assert.True(Arrives(to5432, 5432), $"web -> db udp/5432, datagram {i + 1} before the change");

        lab.Lab.Commit(UdpPortOnly(5433));
        lab.Microseg("apply");
        for (int i = 0; i < 5; i++)
            Assert.False(Arrives(to5432, 5432), $"web -> db udp/5432, datagram {i + 1} after the change");
        Assert.True(Arrives(to5433, 5433), "web -> db udp/5433 after the change");
    }

    private static Socket Bound(IPAddress address, int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(address, port));
        return s;
    }

    [KernelFact]
    public void A_full_flow_table_drops_the_oldest_flows_never_the_policy()
    {
        const int size = 64;
        using var lab = new LabGuard(WebToDb, WebAndDb, up: false);
        var small = new Microseg.Lab.Lab(lab.Lab.Spec, lab.Lab.MicrosegBinary)
        {
            AgentEnvironment = new Dictionary<string, string> { [PolicyCapacity.MaxFlowsVariable] = size.ToString() },
        };
        small.Up(TextWriter.Null);
        var (web, db) = (lab.Guest("web"), lab.Guest("db"));
        var flows = new FlowProbes(small);

        // The first flow, then many more flows than the table holds: they push it out. (A
        // lookup marks an LRU entry as used, so nothing touches the first flow meanwhile.)
        const int flowsOpened = 8 * size;
        Assert.True(flows.UdpArrives(web, db, 20000, 7500));
        for (int i = 1; i <= flowsOpened; i++)
            Assert.True(flows.UdpArrives(web, db, 20000 + i, 7500), $"new flow {i} was not allowed");
        using (var status = JsonDocument.Parse(small.Microseg(small.Spec.Hosts[0], "status", "--json")))
        {
            var table = status.RootElement.GetProperty("policy").GetProperty("flow_table");
            Assert.Equal(size, table.GetProperty("max_entries").GetInt32());
            Assert.InRange(table.GetProperty("entries").GetInt32(), 1, size);
        }
        Assert.False(flows.UdpArrives(db, web, 7500, 20000), "the oldest flow is gone: its reply no longer passes");
        Assert.True(flows.UdpArrives(db, web, 7500, 20000 + flowsOpened), "the newest flow is tracked: its reply passes");
        // New flows still work and policy still decides: web -> db opens, db -> web does not.
        Assert.True(flows.TcpConnects(web, db, 7501));
        Assert.False(flows.TcpConnects(db, web, 7502));
        Assert.False(flows.UdpExchange(db, web, 7503).Request);
    }
}
