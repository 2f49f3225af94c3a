// Runs `microseg` in-process (Program.Run) against one temporary config directory, capturing
// the exit code, stdout and stderr.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Cli.Tests;

public sealed record CliResult(int Exit, string Out, string Err)
{
    public JsonElement Json() => JsonDocument.Parse(Out).RootElement;

    public override string ToString() => $"exit {Exit}\nstdout:\n{Out}\nstderr:\n{Err}";
}

public sealed class ConfigDir : IDisposable
{
    private readonly TempDirectory dir = new("microseg-cli-test-");

    public string Path => dir.Path;

    public string PendingPath => dir.File(DirectoryConfigStore.PendingFileName);

    public string RunningPath => dir.File(DirectoryConfigStore.RunningFileName);

    public static string ExamplePath => System.IO.Path.Combine(AppContext.BaseDirectory, "examples", "microseg.cfg");

    public ConfigDir WithExample()
    {
        File.Copy(ExamplePath, PendingPath);
        return this;
    }

    public ConfigDir WithPending(string text)
    {
        File.WriteAllText(PendingPath, text);
        return this;
    }

    public byte[] Pending => File.Exists(PendingPath) ? File.ReadAllBytes(PendingPath) : [];

    public string PendingText => Encoding.UTF8.GetString(Pending);

    public string PendingDigest => Convert.ToHexStringLower(SHA256.HashData(Pending));

    public PolicyConfig Config => SectionConfig.Parse(Pending, PendingPath);

    /// <summary>Runs microseg with --config-dir pointing here (appended: it is recursive).</summary>
    public CliResult Run(params string[] args) => Cli.Run([.. args, "--config-dir", Path]);

    /// <summary>Runs a command that must succeed.</summary>
    public CliResult Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.Exit == 0, $"microseg {string.Join(' ', args)}: {r}");
        return r;
    }

    /// <summary>Runs a command that must fail with exit 1 and leave microseg.cfg byte-identical.</summary>
    public CliResult Refused(params string[] args)
    {
        var before = Pending;
        var r = Run(args);
        Assert.True(r.Exit == 1, $"microseg {string.Join(' ', args)}: expected exit 1, got {r}");
        Assert.NotEqual("", r.Err.Trim());
        Assert.Equal(before, Pending);
        return r;
    }

    public void Dispose() => dir.Dispose();
}

public static class Cli
{
    public static CliResult Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = Program.Run(args, stdout, stderr);
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }
}
