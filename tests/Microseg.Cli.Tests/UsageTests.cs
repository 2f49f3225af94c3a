// Command-line usage: unknown commands and options are exit 2, --help works for every command.
using System.CommandLine;

namespace Microseg.Cli.Tests;

public sealed class UsageTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("group", "frobnicate")]
    [InlineData("group", "list", "--frob")]
    [InlineData("group", "add", "web", "--colour", "red")]
    [InlineData("group", "add", "web", "--mark", "ten")]
    [InlineData("group", "add")]
    [InlineData("rule", "add", "--dst", "web")]
    [InlineData("assignment", "add", "--vmid", "100", "--group", "web")]
    [InlineData("assignment", "add", "--vmid", "x", "--iface", "0", "--group", "web")]
    [InlineData("explain", "db")]
    [InlineData("explain", "db", "web", "extra")]
    [InlineData("group")]
    public void Usage_errors_are_exit_2_and_change_nothing(params string[] args)
    {
        dir.WithPending("group: db\n\tmark 20\n\ngroup: web\n\tmark 10\n");
        var before = dir.Pending;
        var r = dir.Run(args);
        Assert.True(r.Exit == 2, r.ToString());
        Assert.NotEqual("", r.Err.Trim());
        Assert.Equal(before, dir.Pending);
    }

    [Fact]
    public void No_command_at_all_is_exit_2()
    {
        Assert.Equal(2, Cli.Run().Exit);
    }

    public static TheoryData<string> AllCommands() => [.. CommandPaths()];

    /// <summary>Every command of the tree, as the words that invoke it ("" = the root).</summary>
    private static List<string> CommandPaths()
    {
        var data = new List<string> { "" };
        void Walk(Command command, string path)
        {
            foreach (var sub in command.Subcommands.Where(s => !s.Hidden)) // hidden: for packaging, not users
            {
                var p = path.Length == 0 ? sub.Name : $"{path} {sub.Name}";
                data.Add(p);
                Walk(sub, p);
            }
        }
        Walk(new MicrosegRootCommand(new Io(TextWriter.Null, TextWriter.Null)), "");
        return data;
    }

    [Theory]
    [MemberData(nameof(AllCommands))]
    public void Help_works_for_every_command(string command)
    {
        var path = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var r = Cli.Run([.. path, "--help"]);
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("Usage:", r.Out);
        Assert.Contains(path.Length == 0 ? "microseg" : path[^1], r.Out);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void Command_tree_has_the_documented_commands()
    {
        var commands = CommandPaths().ToHashSet();
        foreach (var type in new[] { "group", "rule", "assignment", "bridge" })
            foreach (var verb in new[] { "add", "set", "del", "list" })
                Assert.Contains($"{type} {verb}", commands);
        Assert.Contains("config check", commands);
        Assert.Contains("commit", commands);
        Assert.Contains("explain", commands);
        Assert.Contains("matrix", commands);
    }
}
