// `microseg commit` and `microseg config check`: exit codes, file:line in errors, and nothing
// written when the pending config is invalid.
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class CommitAndCheckCommandTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Commit_writes_version_1_then_nothing_new_then_version_2()
    {
        dir.WithExample();
        var first = dir.Ok("commit");
        Assert.Contains("version 1", first.Out);
        var snapshot = File.ReadAllBytes(dir.RunningPath);
        using (var doc = JsonDocument.Parse(snapshot))
            Assert.Equal(1, doc.RootElement.GetProperty("version").GetInt64());

        var second = dir.Ok("commit");
        Assert.Contains("nothing to commit", second.Out);
        Assert.Equal(snapshot, File.ReadAllBytes(dir.RunningPath));

        dir.Ok("group", "add", "ops");
        Assert.Contains("version 2", dir.Ok("commit").Out);
        var running = SnapshotFormat.Read(File.ReadAllBytes(dir.RunningPath), dir.RunningPath);
        Assert.Equal(2, running.Version);
        Assert.True(running.Config.Groups.ContainsKey("ops"));
    }

    [Fact]
    public void Commit_reports_and_stores_marks_it_assigned()
    {
        dir.WithPending("group: a\n\tmark 1\n\ngroup: b\n");
        var r = dir.Ok("commit");
        Assert.Contains("assigned mark 2 to group b", r.Out);
        Assert.Equal(2, dir.Config.Groups["b"].Mark);
    }

    [Fact]
    public void Commit_of_an_invalid_config_is_exit_1_with_file_line_and_writes_nothing()
    {
        dir.WithExample();
        dir.Ok("commit");
        var running = File.ReadAllBytes(dir.RunningPath);
        dir.WithPending(dir.PendingText + "\ngroup: nomark\n\ngroup: orphan\n\tparent ghost\n");
        var pending = dir.Pending;
        var line = dir.PendingText.Split('\n').ToList().IndexOf("group: orphan") + 1;

        var r = dir.Run("commit");
        Assert.Equal(1, r.Exit);
        Assert.Contains($"{dir.PendingPath}:{line}", r.Err);
        Assert.Contains("ghost", r.Err);
        Assert.Equal(pending, dir.Pending);
        Assert.Equal(running, File.ReadAllBytes(dir.RunningPath));
    }

    [Fact]
    public void Config_check_of_a_valid_file_is_exit_0_and_writes_nothing()
    {
        dir.WithPending("group: a\n\tmark 1\n\ngroup: b\n");
        var before = dir.Pending;
        var r = dir.Ok("config", "check");
        Assert.Contains("ok", r.Out);
        Assert.Contains("commit will assign 2", r.Out);
        Assert.Equal(before, dir.Pending);
        Assert.False(File.Exists(dir.RunningPath));
    }

    [Theory]
    [InlineData("group: a\n\tmark 1\n\tcolour red\n", 3, "unknown key 'colour'")]
    [InlineData("group: a\n\tmark one\n", 2, "mark 'one'")]
    [InlineData("group: a\n\tmark 1\n\nzone: z\n", 4, "unknown section type")]
    [InlineData("group: a\n\tmark 1\n\ngroup: b\n\tmark 1\n", 4, "mark 1")]
    [InlineData("group: a\n\tmark 1\n\nrule: p9-9\n\tsrc a\n\tdst a\n\taction allow\n", 4, "p1-1")]
    public void Config_check_of_an_invalid_file_is_exit_1_with_file_line_in_stderr(string text, int line, string problem)
    {
        dir.WithPending(text);
        var r = dir.Run("config", "check");
        Assert.Equal(1, r.Exit);
        Assert.Contains($"{dir.PendingPath}:{line}", r.Err);
        Assert.Contains(problem, r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Config_check_reports_every_problem_one_per_line()
    {
        dir.WithPending("group: a\n\tcolour red\n\ngroup: b\n\tmark x\n");
        var r = dir.Run("config", "check");
        Assert.Equal(1, r.Exit);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains($"{dir.PendingPath}:2"));
        Assert.Contains(lines, l => l.Contains($"{dir.PendingPath}:5"));
    }

    [Fact]
    public void Config_check_of_the_example_is_exit_0()
    {
        dir.WithExample();
        Assert.Contains("4 groups, 3 rules, 3 assignments", dir.Ok("config", "check").Out);
    }

    [Fact]
    public void Editing_a_file_that_does_not_parse_is_exit_1_and_leaves_it_alone()
    {
        dir.WithPending("group: a\n\tmark one\n");
        var r = dir.Refused("group", "add", "b");
        Assert.Contains($"{dir.PendingPath}:2", r.Err);
    }
}
