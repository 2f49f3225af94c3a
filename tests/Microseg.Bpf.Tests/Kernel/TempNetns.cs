// A network namespace for one test, deleted (with its interfaces) on Dispose. Commands run in
// it through `ip -n`; C# that must run inside it runs on a dedicated thread that setns()es
// there, since setns changes only the calling thread.
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Microseg.Bpf.Tests.Kernel;

internal sealed partial class TempNetns : IDisposable
{
    private const int CLONE_NEWNET = 0x40000000;

    public TempNetns()
    {
        Name = "msbt-" + Guid.NewGuid().ToString("N")[..10];
        Ip("netns", "add", Name);
        try
        {
            Ip("-n", Name, "link", "set", "lo", "up");
        }
        catch
        {
            Ip("netns", "del", Name);
            throw;
        }
    }

    public string Name { get; }

    /// <summary>Runs <c>ip -n NAME args…</c> and returns its stdout; throws with stderr when it fails.</summary>
    public string Run(params string[] args) => Ip(["-n", Name, .. args]);

    public int IfIndex(string device)
    {
        using var json = JsonDocument.Parse(Run("-j", "link", "show", "dev", device));
        return json.RootElement[0].GetProperty("ifindex").GetInt32();
    }

    /// <summary>Runs <paramref name="action"/> inside the namespace, on a thread of its own.</summary>
    public T Invoke<T>(Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var ns = File.OpenHandle($"/run/netns/{Name}"))
                    if (setns((int)ns.DangerousGetHandle(), CLONE_NEWNET) != 0)
                        throw new InvalidOperationException($"setns {Name}: errno {Marshal.GetLastPInvokeError()}");
                result = action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
        return result;
    }

    public void Dispose() => Ip("netns", "del", Name);

    public static string Ip(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var ip = Process.Start(start)!;
        string stdout = ip.StandardOutput.ReadToEnd();
        string stderr = ip.StandardError.ReadToEnd();
        ip.WaitForExit();
        if (ip.ExitCode != 0)
            throw new InvalidOperationException($"ip {string.Join(' ', args)}: exit {ip.ExitCode}: {stderr.Trim()}");
        return stdout;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
