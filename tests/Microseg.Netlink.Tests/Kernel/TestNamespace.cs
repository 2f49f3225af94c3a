// A network namespace owned by one test: created by `ip netns add`, configured with `ip -n`,
// deleted on Dispose whatever the test did.
using System.Diagnostics;
using System.Text.Json;

namespace Microseg.Netlink.Tests.Kernel;

internal sealed class TestNamespace : IDisposable
{
    private static int counter;

    public TestNamespace()
    {
        Name = $"msnl-{Environment.ProcessId}-{Interlocked.Increment(ref counter)}";
        Run("ip", "netns", "add", Name);
    }

    public string Name { get; }

    /// <summary>`ip -n NAME args...`; throws with ip's stderr when it fails.</summary>
    public string Ip(params string[] args) => Run("ip", ["-n", Name, .. args]);

    /// <summary>`ip netns exec NAME program args...`.</summary>
    public string Exec(params string[] command) => Run("ip", ["netns", "exec", Name, .. command]);

    /// <summary>`ip -n NAME -batch -`: many commands in one process.</summary>
    public void IpBatch(IEnumerable<string> commands) => Run("ip", ["-n", Name, "-batch", "-"], string.Join('\n', commands) + "\n");

    /// <summary>`ip -d -j link show` in this namespace.</summary>
    public JsonElement IpLinks() => JsonDocument.Parse(Ip("-d", "-j", "link", "show")).RootElement;

    public int IfIndex(string device) =>
        IpLinks().EnumerateArray().Single(l => l.GetProperty("ifname").GetString() == device).GetProperty("ifindex").GetInt32();

    /// <summary>Adds and deletes a veth pair in a loop until the returned handle is disposed.</summary>
    public IDisposable StartChurn() => new Churn(Process.Start("bash", ["-c",
        $"while :; do ip -n {Name} link add churn0 type veth peer name churn1; ip -n {Name} link del churn0; done"])!);

    public void Dispose() => Run("ip", "netns", "del", Name);

    private sealed class Churn(Process process) : IDisposable
    {
        public void Dispose()
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            process.Dispose();
        }
    }

    private static string Run(string program, params string[] args) => Run(program, args, stdin: null);

    private static string Run(string program, string[] args, string? stdin)
    {
        var start = new ProcessStartInfo(program, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
        };
        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)}: exit {process.ExitCode}: {stderr.Result.Trim()}");
        return stdout;
    }
}
