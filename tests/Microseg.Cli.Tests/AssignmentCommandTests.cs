// `microseg assignment add|set|del|list`: ids derived as vm{vmid}i{iface}.
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class AssignmentCommandTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public AssignmentCommandTests()
    {
        dir.Ok("group", "add", "web", "--mark", "10");
        dir.Ok("group", "add", "db", "--mark", "20");
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Add_derives_the_id_and_set_moves_the_nic()
    {
        var r = dir.Ok("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "web");
        Assert.Contains("vm100i0", r.Out);
        Assert.Equal(new Assignment(100, 0, "web"), dir.Config.Assignments["vm100i0"]);
        Assert.EndsWith("assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup web\n", dir.PendingText);

        dir.Ok("assignment", "set", "vm100i0", "--group", "db");
        Assert.Equal(new Assignment(100, 0, "db"), dir.Config.Assignments["vm100i0"]);
    }

    [Fact]
    public void Del_removes_the_assignment()
    {
        dir.Ok("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "web");
        dir.Ok("assignment", "add", "--vmid", "200", "--iface", "1", "--group", "db");
        dir.Ok("assignment", "del", "vm100i0");
        Assert.Equal(["vm200i1"], dir.Config.Assignments.Keys);
    }

    [Fact]
    public void List_json_and_table()
    {
        dir.Ok("assignment", "add", "--vmid", "200", "--iface", "1", "--group", "db");
        dir.Ok("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "web");
        var json = dir.Ok("assignment", "list", "--json").Json();
        var data = json.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["vm100i0", "vm200i1"], data.Select(a => a.GetProperty("id").GetString()));
        Assert.Equal(200, data[1].GetProperty("vmid").GetInt64());
        Assert.Equal(1, data[1].GetProperty("iface").GetInt64());
        Assert.Equal("db", data[1].GetProperty("group").GetString());

        var lines = dir.Ok("assignment", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["ID", "VMID", "IFACE", "GROUP", "NICS"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["vm100i0", "100", "0", "web", "tap100i0,veth100i0"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Same_nic_twice_is_refused()
    {
        dir.Ok("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "web");
        var r = dir.Refused("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "db");
        Assert.Contains("vm100i0", r.Err);
    }

    [Fact]
    public void Assignment_to_an_unknown_group_is_refused()
    {
        var r = dir.Refused("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "ghost");
        Assert.Contains("ghost", r.Err);
        dir.Ok("assignment", "add", "--vmid", "100", "--iface", "0", "--group", "web");
        dir.Refused("assignment", "set", "vm100i0", "--group", "ghost");
    }

    [Theory]
    [InlineData("99", "0", "vmid 99")]
    [InlineData("1000000000", "0", "vmid 1000000000")]
    [InlineData("100", "32", "iface 32")]
    public void Vmid_or_iface_out_of_range_is_refused(string vmid, string iface, string message)
    {
        var r = dir.Refused("assignment", "add", "--vmid", vmid, "--iface", iface, "--group", "web");
        Assert.Contains(message, r.Err);
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("99999999999999")]
    public void Vmid_the_file_cannot_hold_never_reaches_the_file(string vmid)
    {
        dir.Run("assignment", "add", "--vmid", vmid, "--iface", "0", "--group", "web");
        dir.Ok("config", "check");
        Assert.Empty(dir.Config.Assignments);
    }

    [Fact]
    public void Set_and_del_of_a_missing_assignment_are_exit_1()
    {
        dir.Refused("assignment", "set", "vm100i0", "--group", "web");
        dir.Refused("assignment", "del", "vm100i0");
    }
}
