// Runs the programs the package tests drive (make, dpkg, ip, bpftool, man, the hooks) with
// their real arguments and environment, capturing exit code and output.
using System.Diagnostics;

namespace Microseg.Packaging.Tests;

public sealed record ShResult(string Command, int Exit, string Out, string Err)
{
    public override string ToString() => $"{Command}: exit {Exit}\nstdout:\n{Out}\nstderr:\n{Err}";
}

public static class Sh
{
    public static ShResult Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, string? cwd = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (cwd is not null) psi.WorkingDirectory = cwd;
        foreach (var a in args) psi.ArgumentList.Add(a);
        // A nested `dotnet publish` (make deb) must not inherit the test host's MSBuild settings.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        if (env is not null)
            foreach (var (k, v) in env)
                if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new ShResult($"{file} {string.Join(' ', psi.ArgumentList)}", p.ExitCode, stdout.Result, stderr.Result);
    }

    public static ShResult Run(string file, params string[] args) => Run(file, args, null);

    /// <summary>Runs a command that must succeed; returns its stdout.</summary>
    public static string Ok(string file, params string[] args)
    {
        var r = Run(file, args);
        Assert.True(r.Exit == 0, r.ToString());
        return r.Out;
    }
}
