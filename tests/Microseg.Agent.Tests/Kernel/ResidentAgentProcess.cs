// `microseg agent` run by a test inside a lab host's namespace, with that host's bpffs, run dir,
// config dir and node, as the lab runs apply. Its stderr is kept for the test to wait on and to
// show on failure; Dispose kills it (SIGKILL) if it still runs.
using System.Diagnostics;
using System.Globalization;
using Microseg.Lab;

namespace Microseg.Agent.Tests.Kernel;

public sealed class ResidentAgentProcess : IDisposable
{
    private readonly Process process;
    private readonly List<string> lines = [];

    public ResidentAgentProcess(Microseg.Lab.Lab lab, LabHost host, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "netns", "exec", lab.Namespace(host.Name), lab.MicrosegBinary, "agent",
                     "--config-dir", lab.ConfigDirectory, "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name })
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("WATCHDOG_USEC");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ip netns exec microseg agent");
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    public int Pid => process.Id;

    public string Log
    {
        get { lock (lines) return string.Join('\n', lines); }
    }

    public int LineCount(string contains)
    {
        lock (lines) return lines.Count(l => l.Contains(contains, StringComparison.Ordinal));
    }

    /// <summary>Waits until the agent has logged <paramref name="count"/> lines containing <paramref name="contains"/>.</summary>
    public void WaitForLog(string contains, int count = 1, int seconds = 60) =>
        Assert.True(Poll.Until(() => LineCount(contains) >= count || process.HasExited, TimeSpan.FromSeconds(seconds)) && LineCount(contains) >= count,
            $"the agent did not log '{contains}' ({count}x) within {seconds} s{(process.HasExited ? $" (it exited {process.ExitCode})" : "")}:\n{Log}");

    /// <summary>The agent has done its first full apply (and told systemd READY=1 when asked to).</summary>
    public void WaitReady() => WaitForLog("applied snapshot version");

    public void Signal(string name) => Shell.Check("kill", "-s", name, Pid.ToString(CultureInfo.InvariantCulture));

    public int WaitForExit(int seconds = 30)
    {
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(seconds)), $"the agent did not exit within {seconds} s:\n{Log}");
        process.WaitForExit();
        return process.ExitCode;
    }

    public void Kill()
    {
        if (!process.HasExited) process.Kill();
        process.WaitForExit();
    }

    public void Dispose()
    {
        try { Kill(); }
        catch (InvalidOperationException) { /* never started */ }
        process.Dispose();
    }
}
