// `microseg monitor` as a user without root (the built binary): one line saying root is needed,
// exit 1. What it shows with root is tested on real packets in the agent's kernel tests.
using System.Diagnostics;
using Microseg.TestSupport;

namespace Microseg.Cli.Tests;

public sealed class MonitorCommandTests
{
    [RootFact]
    public void Monitor_without_root_says_root_is_needed_in_one_line()
    {
        var info = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--reuid=nobody", "--regid=nogroup", "--clear-groups", RepoPaths.MicrosegBinary, "monitor", "--json" })
            info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "microseg monitor as nobody did not exit");

        var lines = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(p.ExitCode == 1, $"exit {p.ExitCode}: {stderr.Result}");
        Assert.Equal("", stdout.Result);
        var line = Assert.Single(lines);
        Assert.StartsWith("microseg: ", line);
        Assert.Contains("'microseg monitor' needs root", line);
    }

    [Fact]
    public void Monitor_is_a_command_with_its_options()
    {
        var root = new MicrosegRootCommand(new Io(TextWriter.Null, TextWriter.Null));
        var monitor = Assert.Single(root.Subcommands, c => c.Name == "monitor");

        Assert.Equal(["--json", "--flows", "--group", "--nic", "--verdict"], monitor.Options.Select(o => o.Name).Take(5));
        Assert.All(monitor.Options, o => Assert.False(string.IsNullOrWhiteSpace(o.Description), o.Name));
    }
}
