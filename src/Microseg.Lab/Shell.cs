// Runs the lab's helper programs (ip, ping, microseg) and reports failures with their stderr.
using System.Diagnostics;

namespace Microseg.Lab;

public sealed record ShellResult(int ExitCode, string Stdout, string Stderr);

public static class Shell
{
    public static ShellResult Run(string file, params string[] args) => RunWith(null, file, args);

    public static ShellResult RunWith(IReadOnlyDictionary<string, string>? env, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new LabException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new ShellResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs and throws <see cref="LabException"/> unless it exits 0.</summary>
    public static string Check(string file, params string[] args)
    {
        var r = Run(file, args);
        if (r.ExitCode != 0)
            throw new LabException($"{file} {string.Join(' ', args)}: exit {r.ExitCode}: {(r.Stderr.Length > 0 ? r.Stderr : r.Stdout).Trim()}");
        return r.Stdout;
    }

    /// <summary>`ip ARGS`, failing loudly.</summary>
    public static string Ip(params string[] args) => Check("ip", args);
}
