// An open TCP connection whose answers pass only as replies (web -> db allowed, nothing allows
// db -> web) keeps flowing, with no byte lost, across a program upgrade (same maps) and a map
// schema migration (new maps: the open flows are carried over); flush-flows then cuts it.
using System.Text.Json;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class FlowSurvivalTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void An_open_connection_survives_an_upgrade_and_a_migration_and_flush_flows_cuts_it(string attach)
    {
        Assert.True(File.Exists(RepoPaths.BpfObject("policy.variant.bpf.o")), "run 'make build' first");
        using var lab = new LabGuard(StatefulTests.WebToDb, [("web", 110, 0), ("db", 120, 0)], attach: attach);
        var upgrade = new Dictionary<string, string> { ["MICROSEG_TEST_POLICY_OBJECT"] = RepoPaths.BpfObject("policy.variant.bpf.o") };
        var migrate = new Dictionary<string, string>(upgrade) { ["MICROSEG_TEST_POLICY_SCHEMA"] = (PolicyAbi.SchemaVersion + 1).ToString() };

        // Two connections: one is finished cleanly after the migration (every byte counted on
        // both ends), the other is cut by flush-flows.
        using var stream = new TcpStream(lab.Lab, lab.Guest("web"), lab.Guest("db"), 7601);
        using var finished = new TcpStream(lab.Lab, lab.Guest("web"), lab.Guest("db"), 7602);
        Assert.True(stream.Flows(2_000, Patience), $"the stream flows: {stream}");

        var up = lab.Lab.MicrosegResult(lab.Host, upgrade, "apply", "-v");
        Assert.True(up.ExitCode == 0, up.Stderr);
        Assert.Contains("programs upgraded", up.Stdout);
        Assert.True(stream.Flows(2_000, Patience), $"the stream flows after the upgrade: {stream}");

        var mig = lab.Lab.MicrosegResult(lab.Host, migrate, "apply", "-v");
        Assert.True(mig.ExitCode == 0, mig.Stderr);
        Assert.Contains("programs migrated", mig.Stdout);
        Assert.Matches($"policy maps migrated from schema {PolicyAbi.SchemaVersion} to {PolicyAbi.SchemaVersion + 1}: \\d+ links switched atomically, [1-9]\\d* open flows carried over", mig.Stderr);
        Assert.True(stream.Flows(2_000, Patience), $"the stream flows after the migration: {stream}");
        Assert.Null(stream.Problem);
        var (complete, detail) = finished.Finish();
        Assert.True(complete, $"every counter arrived in order, both ways, across the upgrade and the migration: {detail}");

        // flush-flows: its flows go, and with them the replies: web receives nothing more.
        var flushed = lab.Lab.MicrosegResult(lab.Host, migrate, "flush-flows", "--nic", "veth110i0");
        Assert.True(flushed.ExitCode == 0, flushed.Stderr);
        Assert.Matches(@"^flush-flows: [1-9]\d* flows? removed \(veth110i0\)", flushed.Stdout);
        // What was in flight, or already in web's socket, is read: wait until the count stays
        // still for 300 ms (at most 10 s), then 2 s more must bring nothing.
        long before;
        var settle = DateTime.UtcNow.AddSeconds(10);
        do
        {
            before = stream.ReceivedBySource;
            Thread.Sleep(300);
        }
        while (stream.ReceivedBySource != before && DateTime.UtcNow < settle);
        before = stream.ReceivedBySource;
        Thread.Sleep(2_000);
        Assert.True(stream.ReceivedBySource == before, $"db's data still reaches web after flush-flows: {stream}");
    }

    [KernelFact]
    public void Flush_flows_names_what_it_removed_and_refuses_an_unknown_nic_or_group()
    {
        using var lab = new LabGuard(StatefulTests.WebToDb, [("web", 110, 0), ("db", 120, 0)]);
        var flows = new Microseg.Lab.FlowProbes(lab.Lab);
        Assert.True(flows.UdpArrives(lab.Guest("web"), lab.Guest("db"), 7611, 7612));
        // db -> web is dropped at web's NIC, but db's own NIC records the flow db opened.
        Assert.False(flows.UdpArrives(lab.Guest("db"), lab.Guest("web"), 7613, 7614));

        Assert.Matches(@"^flush-flows: [1-9]\d* flows? removed \(group db: veth120i0\)\n$", lab.Microseg("flush-flows", "--group", "db"));
        Assert.Matches(@"^flush-flows: [1-9]\d* flows? removed \(veth110i0\)\n$", lab.Microseg("flush-flows", "--nic", "veth110i0"));
        Assert.Equal("flush-flows: 0 flows removed (veth110i0)\n", lab.Microseg("flush-flows", "--nic", "veth110i0"));
        Assert.True(flows.UdpArrives(lab.Guest("web"), lab.Guest("db"), 7615, 7612));
        Assert.Matches(@"^flush-flows: [1-9]\d* flows? removed \(all NICs\)\n$", lab.Microseg("flush-flows"));
        Assert.False(flows.UdpArrives(lab.Guest("db"), lab.Guest("web"), 7612, 7615), "the reply to a flushed flow passed");

        var nic = lab.MicrosegResult("flush-flows", "--nic", "veth999i0");
        Assert.Equal(1, nic.ExitCode);
        Assert.Contains("flush-flows --nic veth999i0: no such interface on this host", nic.Stderr);
        var group = lab.MicrosegResult("flush-flows", "--group", "nosuch");
        Assert.Equal(1, group.ExitCode);
        Assert.Contains("flush-flows --group nosuch: no group 'nosuch' in the committed policy", group.Stderr);
        var both = lab.MicrosegResult("flush-flows", "--group", "web", "--nic", "veth110i0");
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("give --nic or --group, not both", both.Stderr);
    }
}
