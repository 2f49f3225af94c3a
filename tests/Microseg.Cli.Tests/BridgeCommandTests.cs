// `microseg bridge add|set|del|list`: carrier interfaces with an optional nodes list.
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class BridgeCommandTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Add_set_del_and_list()
    {
        dir.Ok("bridge", "add", "eth1", "--nodes", "node1,node2");
        dir.Ok("bridge", "add", "vmbr9");
        Assert.Equal(new Bridge("eth1", new ValueList<string>(["node1", "node2"])), dir.Config.Bridges["eth1"]);
        Assert.Equal(new Bridge("vmbr9", ValueList<string>.Empty), dir.Config.Bridges["vmbr9"]);
        Assert.Contains("bridge: eth1\n\tnodes node1,node2\n", dir.PendingText);

        var data = dir.Ok("bridge", "list", "--json").Json().GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["eth1", "vmbr9"], data.Select(b => b.GetProperty("id").GetString()));
        Assert.Equal(["node1", "node2"], data[0].GetProperty("nodes").EnumerateArray().Select(n => n.GetString()));
        Assert.False(data[1].TryGetProperty("nodes", out _));

        var lines = dir.Ok("bridge", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["eth1", "node1,node2"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["vmbr9", "(all)"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        dir.Ok("bridge", "set", "eth1", "--nodes", "node3");
        Assert.Equal(["node3"], dir.Config.Bridges["eth1"].Nodes);
        dir.Ok("bridge", "set", "eth1");
        Assert.Empty(dir.Config.Bridges["eth1"].Nodes);
        dir.Ok("bridge", "del", "eth1");
        Assert.Equal(["vmbr9"], dir.Config.Bridges.Keys);
    }

    [Theory]
    [InlineData("eth/1")]
    [InlineData("averyveryverylong")]
    [InlineData("eth:1")]
    public void Invalid_interface_name_is_refused(string name)
    {
        dir.Refused("bridge", "add", name);
    }

    [Theory]
    [InlineData("-node")]
    [InlineData("node_1")]
    [InlineData("node1,,node2")]
    [InlineData("node1,node1")]
    public void Invalid_nodes_are_refused(string nodes)
    {
        dir.Ok("bridge", "add", "eth1");
        dir.Refused("bridge", "add", "eth2", "--nodes", nodes);
        dir.Refused("bridge", "set", "eth1", "--nodes", nodes);
    }

    [Fact]
    public void Add_existing_and_set_or_del_missing_are_exit_1()
    {
        dir.Ok("bridge", "add", "eth1");
        dir.Refused("bridge", "add", "eth1");
        dir.Refused("bridge", "set", "eth2", "--nodes", "node1");
        dir.Refused("bridge", "del", "eth2");
    }
}
