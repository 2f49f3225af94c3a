// `microseg forwarder add|set|del|list`: XDP forwarding sets in the pending config.
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class ForwarderCommandTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Add_set_del_and_list()
    {
        var added = dir.Ok("forwarder", "add", "net0", "--router", "eth9", "--physical", "eth1,eth2");
        Assert.StartsWith("added forwarder net0 (router eth9, physical eth1,eth2, mode skb) (digest ", added.Out);
        dir.Ok("forwarder", "add", "net1", "--router", "eth8", "--physical", "*", "--mode", "native");
        Assert.Equal(new Forwarder("net0", "eth9", new ValueList<string>(["eth1", "eth2"])), dir.Config.Forwarders["net0"]);
        Assert.Equal(new Forwarder("net1", "eth8", new ValueList<string>(["*"]), ForwarderMode.Native), dir.Config.Forwarders["net1"]);
        Assert.Contains("forwarder: net0\n\trouter eth9\n\tphysical eth1,eth2\n\tmode skb\n", dir.PendingText);

        var data = dir.Ok("forwarder", "list", "--json").Json().GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["net0", "net1"], data.Select(f => f.GetProperty("id").GetString()));
        Assert.Equal("eth9", data[0].GetProperty("router").GetString());
        Assert.Equal(["eth1", "eth2"], data[0].GetProperty("physical").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("native", data[1].GetProperty("mode").GetString());

        var lines = dir.Ok("forwarder", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "ROUTER", "PHYSICAL", "MODE", "NODES"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["net0", "eth9", "eth1,eth2", "skb", "(all)"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["net1", "eth8", "*", "native", "(all)"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        // set changes only what it is given.
        dir.Ok("forwarder", "set", "net0", "--mode", "native");
        Assert.Equal(new Forwarder("net0", "eth9", new ValueList<string>(["eth1", "eth2"]), ForwarderMode.Native), dir.Config.Forwarders["net0"]);
        dir.Ok("forwarder", "set", "net0", "--physical", "eth3", "--router", "eth7");
        Assert.Equal(new Forwarder("net0", "eth7", new ValueList<string>(["eth3"]), ForwarderMode.Native), dir.Config.Forwarders["net0"]);
        dir.Ok("forwarder", "del", "net0");
        Assert.Equal(["net1"], dir.Config.Forwarders.Keys);
    }

    [Fact]
    public void Add_needs_router_and_physical_and_mode_is_skb_or_native()
    {
        Assert.Equal(2, dir.Run("forwarder", "add", "net0", "--physical", "eth1").Exit);
        Assert.Equal(2, dir.Run("forwarder", "add", "net0", "--router", "eth9").Exit);
        var bad = dir.Run("forwarder", "add", "net0", "--router", "eth9", "--physical", "eth1", "--mode", "fast");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("fast", bad.Err);
        Assert.Equal([], dir.Pending);
    }

    [Theory]
    [InlineData("1net", "--router", "eth9", "--physical", "eth1")]      // forwarder name
    [InlineData("net0", "--router", "eth/9", "--physical", "eth1")]     // router name
    [InlineData("net0", "--router", "eth9", "--physical", "eth1,,eth2")] // empty item
    [InlineData("net0", "--router", "eth9", "--physical", "eth:1")]     // physical name
    [InlineData("net0", "--router", "eth9", "--physical", "eth1,eth1")] // twice
    [InlineData("net0", "--router", "eth9", "--physical", "eth1,eth9")] // the router is no physical
    public void Invalid_forwarders_are_refused(string name, params string[] options)
    {
        dir.Refused(["forwarder", "add", name, .. options]);
    }

    [Fact]
    public void A_router_serves_one_forwarder_and_ids_are_unique_across_types()
    {
        dir.Ok("forwarder", "add", "net0", "--router", "eth9", "--physical", "eth1");
        var r = dir.Refused("forwarder", "add", "net1", "--router", "eth9", "--physical", "eth2");
        Assert.Contains("interface 'eth9' already belongs to forwarder 'net0'", r.Err);
        dir.Refused("forwarder", "add", "net0", "--router", "eth8", "--physical", "eth2");
        dir.Ok("group", "add", "web");
        Assert.Contains("already used by a group", dir.Refused("forwarder", "add", "web", "--router", "eth8", "--physical", "eth2").Err);
        Assert.Contains("interface 'eth1' already belongs to forwarder 'net0'",
            dir.Refused("forwarder", "add", "net2", "--router", "eth7", "--physical", "eth3,eth1").Err);
        dir.Ok("forwarder", "add", "net2", "--router", "eth7", "--physical", "*");
        dir.Refused("forwarder", "set", "net5", "--mode", "native");
        dir.Refused("forwarder", "del", "net5");
    }

    [Fact]
    public void A_committed_forwarder_reaches_the_snapshot()
    {
        dir.Ok("forwarder", "add", "net0", "--router", "eth9", "--physical", "*", "--mode", "native");
        dir.Ok("commit");
        using var running = System.Text.Json.JsonDocument.Parse(File.ReadAllText(dir.RunningPath));
        var f = running.RootElement.GetProperty("ids").GetProperty("net0");
        Assert.Equal("forwarder", f.GetProperty("type").GetString());
        Assert.Equal("eth9", f.GetProperty("router").GetString());
        Assert.Equal(["*"], f.GetProperty("physical").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("native", f.GetProperty("mode").GetString());
    }
}
