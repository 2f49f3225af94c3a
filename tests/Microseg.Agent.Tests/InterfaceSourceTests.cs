// The agent takes the host's interfaces from the source its caller passes: here an in-memory
// table that a test keeps current, as a resident agent would from link events. Status and the
// plug path's decisions need no kernel while nothing is loaded.
using Microseg.Agent.Subsystems;
using Microseg.Netlink;
using Microseg.Policy;
using Microseg.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microseg.Agent.Tests;

public sealed class InterfaceSourceTests : IDisposable
{
    private static readonly PolicyConfig Example = SectionConfig.Parse(
        File.ReadAllBytes(Path.Combine(RepoPaths.Root, "examples", "microseg.cfg")), "microseg.cfg");

    private readonly string root = Path.Combine(Path.GetTempPath(), "microseg-source-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly InterfaceTable table = new([Link(1, "lo"), Link(4, "veth100i0"), Link(8, "veth200i1")]);

    private static LinkInfo Link(int ifIndex, string name) => new() { IfIndex = ifIndex, Name = name };

    private MicrosegAgent Agent() =>
        new(new AgentOptions(Path.Combine(root, "bpffs"), Path.Combine(root, "run"), "node1"), table, NullLoggerFactory.Instance);

    public void Dispose()
    {
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
    }

    [Fact]
    public void Status_sees_the_interfaces_of_the_table_as_it_changes()
    {
        static IEnumerable<string> Unloaded(AgentStatus s) => s.Policy.Warnings.Where(w => w.EndsWith("but nothing is loaded: run 'microseg apply'", StringComparison.Ordinal));

        Assert.Equal(["veth100i0 is assigned (vm100i0, group wiki) but nothing is loaded: run 'microseg apply'",
                      "veth200i1 is assigned (vm200i1, group db) but nothing is loaded: run 'microseg apply'"], Unloaded(Agent().Status(Example)));

        table.Set(Link(6, "veth101i0"));
        Assert.Equal(3, Unloaded(Agent().Status(Example)).Count());
        Assert.True(table.Remove(4));
        Assert.Equal(["veth101i0", "veth200i1"], Unloaded(Agent().Status(Example)).Select(w => w.Split(' ')[0]));
        Assert.False(table.Remove(4));
    }

    [Fact]
    public void Status_without_a_snapshot_shows_only_the_policy()
    {
        var status = Agent().Status(null);
        Assert.Equal([Policy.PolicySubsystem.SubsystemName], status.Subsystems.Select(s => s.Name));
        Assert.False(status.Policy.Loaded);
        Assert.Empty(status.Warnings);
    }

    [Theory]
    [InlineData("lo", "not a guest NIC name (tap{vmid}i{n} or veth{vmid}i{n})")]
    [InlineData("veth300i0", "no assignment vm300i0: not enforced")]
    [InlineData("eth7", "not a guest NIC name (tap{vmid}i{n} or veth{vmid}i{n})")]
    public void The_plug_path_says_why_an_interface_is_nothing_to_do(string name, string why)
    {
        var outcome = Agent().ApplyInterface(Example, name);
        Assert.Equal(why, outcome.Skipped);
        Assert.Empty(outcome.Reports);
        Assert.False(outcome.Failed);
    }

    [Fact]
    public void An_assigned_nic_missing_from_the_table_is_the_policys_error()
    {
        var outcome = Agent().ApplyInterface(Example, "veth101i0");
        Assert.True(outcome.Failed);
        Assert.Null(outcome.Skipped);
        var report = Assert.Single(outcome.Reports);
        Assert.Equal("policy", report.Subsystem);
        Assert.Equal("apply veth101i0: no such interface on this host; it is assigned (vm101i0) and cannot be enforced", Assert.Single(report.Errors));
    }
}
