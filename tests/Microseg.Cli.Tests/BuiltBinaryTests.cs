// The published `out/microseg` (make build) as users run it: as a user without root, and on a
// terminal. These need root themselves (to drop to `nobody`), as `make test` runs.
using System.Diagnostics;
using Microseg.TestSupport;

namespace Microseg.Cli.Tests;

public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess && !KernelProbe.InCi) Skip = "needs root to run the binary as nobody (CI=true turns this skip into a failure)";
    }
}

public sealed class BuiltBinaryTests : IDisposable
{
    // 0700 and owned by root: `nobody` can neither read nor write it.
    private readonly TempDirectory dir = new("microseg-cli-binary-");

    public void Dispose() => dir.Dispose();

    private static CliResult Exec(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove("MICROSEG_CONFIG_DIR");
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{file} {string.Join(' ', args)} did not exit");
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    private static CliResult AsNobody(params string[] args) =>
        Exec("setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", RepoPaths.MicrosegBinary, .. args]);

    private static void OneLine(CliResult r, int exit)
    {
        Assert.True(r.Exit == exit, r.ToString());
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("microseg: ", StringComparison.Ordinal), r.ToString());
    }

    [Fact]
    public void The_version_is_the_one_the_package_gets()
    {
        var version = File.ReadAllText(Path.Combine(RepoPaths.Root, "VERSION")).Trim();
        var r = Exec(RepoPaths.MicrosegBinary, "--version");
        Assert.True(r.Exit == 0, r.ToString());
        // VERSION, then the commit it was built from when built in a git clone: "0.1.0+<sha>".
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(version)}(\\+[0-9a-f]{{40}})?$", r.Out.Trim());
    }

    [RootFact]
    public void A_config_edit_without_root_says_root_is_needed_and_names_config_dir()
    {
        var r = AsNobody("group", "add", "web", "--config-dir", dir.Path);
        OneLine(r, 1);
        Assert.Contains("needs root", r.Err);
        Assert.Contains("--config-dir", r.Err);
        Assert.DoesNotContain("Access to the path", r.Err);
    }

    [RootFact]
    public void A_config_read_of_an_unreadable_directory_says_root_is_needed()
    {
        File.WriteAllText(dir.File("microseg.cfg"), "group: web\n\tmark 1\n");
        var r = AsNobody("group", "list", "--config-dir", dir.Path);
        OneLine(r, 1);
        Assert.Contains("needs root", r.Err);
        Assert.Contains("--config-dir", r.Err);
    }

    [RootFact]
    public void Apply_without_root_says_root_is_needed()
    {
        var r = AsNobody("apply", "--config-dir", dir.Path, "--bpffs", dir.File("bpffs"), "--run-dir", dir.File("run"));
        OneLine(r, 1);
        Assert.Contains("'microseg apply' needs root", r.Err);
        Assert.Contains("--bpffs", r.Err);
    }

    [RootFact]
    public void Status_without_root_says_it_could_not_look_and_why()
    {
        var r = AsNobody("status");
        OneLine(r, 1);
        Assert.StartsWith("microseg: status could not look: ", r.Err);
        Assert.Contains("needs root", r.Err);
        Assert.DoesNotContain("not loaded", r.Out);
    }

    [RootFact]
    public void Help_without_root_still_works()
    {
        var r = AsNobody("status", "--help");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("Usage:", r.Out);
    }

    /// <summary>Runs the binary on a pseudo-terminal (script(1)) and returns every byte it printed.</summary>
    private static string OnTerminal(string command)
    {
        var r = Exec("script", "-qec", command, "/dev/null");
        return r.Out;
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("group --help")]
    [InlineData("help group add")]
    [InlineData("group list --config-dir {dir}")]
    [InlineData("group list --json --config-dir {dir}")]
    [InlineData("gruop list")]
    [InlineData("explain db")]
    [InlineData("matrix --config-dir {dir}")]
    public void No_terminal_escape_sequences_on_a_tty(string args)
    {
        File.WriteAllText(dir.File("microseg.cfg"), "group: web\n\tmark 1\n\ngroup: db\n\tmark 2\n");
        var output = OnTerminal($"{RepoPaths.MicrosegBinary} {args.Replace("{dir}", dir.Path, StringComparison.Ordinal)}");
        Assert.NotEqual("", output.Trim());
        Assert.DoesNotContain('\u001b', output);
    }

    [Fact]
    public void Stdout_and_stderr_into_one_file_keep_both()
    {
        var log = dir.File("log");
        var r = Exec("sh", "-c", $"'{RepoPaths.MicrosegBinary}' group add web --config-dir '{dir.Path}' >'{log}' 2>&1; '{RepoPaths.MicrosegBinary}' group add web --config-dir '{dir.Path}' >>'{log}' 2>&1");
        Assert.Equal(1, r.Exit);
        var lines = File.ReadAllLines(log);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("added group web (mark 1)", lines[0]);
        Assert.StartsWith("microseg: group 'web' already exists", lines[1]);
    }
}
