// A forwarder's `nodes` (optional comma list, empty = every node), as a bridge has it: through
// the parser and the writer, validation, the snapshot and ConfigEdits.
namespace Microseg.Policy.Tests;

public sealed class ForwarderNodesTests
{
    private const string Text = "forwarder: net0\n\trouter eth9\n\tphysical eth1,eth2\n\tmode skb\n\tnodes node1,node2\n";

    [Fact]
    public void Nodes_round_trip_through_the_file_and_the_snapshot()
    {
        var config = SectionConfig.Parse(Text, "x.cfg");
        var f = config.Forwarders["net0"];
        Assert.Equal(["node1", "node2"], f.Nodes);
        Assert.True(f.AppliesTo("node2"));
        Assert.False(f.AppliesTo("node3"));
        Assert.Equal(Text, SectionConfig.Write(config));

        var snapshot = SnapshotFormat.Read(SnapshotFormat.Write(new Snapshot(1, config)), "s.json");
        Assert.Equal(f, snapshot.Config.Forwarders["net0"]);
        Assert.Contains("\"nodes\": [", System.Text.Encoding.UTF8.GetString(SnapshotFormat.Write(snapshot)));
    }

    [Fact]
    public void No_nodes_is_every_node_and_is_written_as_before()
    {
        const string without = "forwarder: net0\n\trouter eth9\n\tphysical eth1\n\tmode skb\n";
        var f = SectionConfig.Parse(without, "x.cfg").Forwarders["net0"];
        Assert.Empty(f.Nodes);
        Assert.True(f.AppliesTo("anything"));
        Assert.Equal(without, SectionConfig.Write(SectionConfig.Parse(without, "x.cfg")));
    }

    [Fact]
    public void Validation_checks_node_names_and_allows_one_interface_in_forwarders_of_different_nodes()
    {
        var bad = PolicyConfig.Create(forwarders: [new Forwarder("net0", "eth9", new(["eth1"]), ForwarderMode.Skb, new(["-bad", "n1", "n1"]))]);
        var problems = Validation.Check(bad);
        Assert.Contains(problems, p => p.Field == "nodes" && p.Message.Contains("invalid node name '-bad'"));
        Assert.Contains(problems, p => p.Field == "nodes" && p.Message.Contains("twice"));

        var apart = PolicyConfig.Create(forwarders:
        [
            new Forwarder("net0", "eth9", new(["eth1"]), ForwarderMode.Skb, new(["n1"])),
            new Forwarder("net1", "eth9", new(["eth1"]), ForwarderMode.Skb, new(["n2"])),
        ]);
        Assert.Empty(Validation.Check(apart));
        var together = apart.Put(new Forwarder("net2", "eth9", new(["eth3"])));
        Assert.Contains(Validation.Check(together), p => p.Message.Contains("interface 'eth9' already belongs"));
    }

    [Fact]
    public void Edits_set_keep_and_clear_nodes()
    {
        var (config, f) = ConfigEdits.AddForwarder(PolicyConfig.Empty, "net0", "eth9", new(["eth1"]), ForwarderMode.Skb, new(["n1"]));
        Assert.Equal(["n1"], f.Nodes);
        (config, f) = ConfigEdits.UpdateForwarder(config, "net0", "eth8", null, null);
        Assert.Equal(["n1"], f.Nodes);
        (_, f) = ConfigEdits.UpdateForwarder(config, "net0", null, null, null, ValueList<string>.Empty);
        Assert.Empty(f.Nodes);
    }
}
