// `microseg monitor` (the built binary) running on a lab host while a test sends traffic: its
// stdout lines collected as they come, stopped with SIGINT as a user's Ctrl-C would.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microseg.Lab;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Agent.Tests.Kernel;

public sealed class MonitorProcess : IDisposable
{
    private readonly Process process;
    private readonly ConcurrentQueue<string> lines = new();
    private readonly ConcurrentQueue<string> errors = new();
    private readonly TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MonitorProcess(Process process) => this.process = process;

    /// <summary>Starts `microseg monitor ARGS` on <paramref name="host"/> and waits for its
    /// "monitoring" line (the ring is open: what comes next is seen).</summary>
    public static MonitorProcess Start(LabRig lab, LabHost host, params string[] args)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // SIGINT back to its default first: a test run started in the background by a shell
        // without job control inherits it ignored, and so would the monitor (and the runtime
        // leaves an inherited ignore alone), where a terminal's Ctrl-C always delivers it.
        foreach (var a in (string[])["netns", "exec", lab.Namespace(host.Name), "env", "--default-signal=INT", lab.MicrosegBinary, "monitor", .. args,
                     "--config-dir", lab.ConfigDirectory, "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name])
            info.ArgumentList.Add(a);
        var monitor = new MonitorProcess(new Process { StartInfo = info });
        monitor.process.OutputDataReceived += (_, e) => { if (e.Data is not null) monitor.lines.Enqueue(e.Data); };
        monitor.process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            monitor.errors.Enqueue(e.Data);
            if (e.Data.StartsWith("microseg: monitoring ", StringComparison.Ordinal)) monitor.started.TrySetResult();
        };
        monitor.process.Start();
        monitor.process.BeginOutputReadLine();
        monitor.process.BeginErrorReadLine();
        if (!monitor.started.Task.Wait(TimeSpan.FromSeconds(30)) && !monitor.process.HasExited)
        {
            monitor.Dispose();
            throw new TimeoutException("microseg monitor did not start within 30 s");
        }
        if (monitor.process.HasExited && !monitor.started.Task.IsCompleted)
        {
            monitor.process.WaitForExit();
            throw new InvalidOperationException($"microseg monitor exited {monitor.process.ExitCode}: {monitor.Stderr}");
        }
        return monitor;
    }

    public string Stderr => string.Join('\n', errors);

    /// <summary>The lines so far.</summary>
    public IReadOnlyList<string> Lines => [.. lines];

    /// <summary>The event lines so far, parsed (the {"lost":N} lines left out).</summary>
    public IReadOnlyList<JsonElement> Events => [.. Lines.Select(l => JsonDocument.Parse(l).RootElement).Where(e => !e.TryGetProperty("lost", out _))];

    /// <summary>The sum of the {"lost":N} lines so far.</summary>
    public ulong Lost => Lines.Select(l => JsonDocument.Parse(l).RootElement)
        .Where(e => e.TryGetProperty("lost", out _)).Aggregate(0UL, (sum, e) => sum + e.GetProperty("lost").GetUInt64());

    /// <summary>Waits until an event <paramref name="match"/> accepts has come; true if one did.</summary>
    public bool WaitFor(Predicate<JsonElement> match, TimeSpan? timeout = null) =>
        Poll.Until(() => Events.Any(e => match(e)), timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>Ctrl-C: SIGINT, then waits for the exit; returns the exit code.</summary>
    public int Interrupt() => Signal("INT");

    public int Terminate() => Signal("TERM");

    private int Signal(string signal)
    {
        Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        if (!process.WaitForExit(30_000)) throw new TimeoutException($"microseg monitor did not exit on SIG{signal}");
        process.WaitForExit(); // the output readers finish
        return process.ExitCode;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            try { process.Kill(); process.WaitForExit(10_000); }
            catch (InvalidOperationException) { }
        }
        process.Dispose();
    }

    /// <summary>An event's field as text (null for JSON null).</summary>
    public static string? Text(JsonElement e, string name) => e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).ToString();
}
