// Real etcd members for a test: each on free localhost ports with its own data directory,
// started from the etcd-server package's binary, killed and removed with the cluster. A test
// can kill a member, start it again, or stop them all.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microseg.Etcd;
using Microseg.TestSupport;

namespace Microseg.Etcd.Tests;

public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        if (EtcdCluster.Missing is { } why && !KernelProbe.InCi)
            Skip = $"etcd test skipped: {why} (CI=true turns this skip into a failure)";
    }
}

public sealed class EtcdCluster : IDisposable
{
    public const string Binary = "/usr/bin/etcd";

    /// <summary>Why no member can be started here, or null.</summary>
    public static string? Missing => File.Exists(Binary) ? null : $"{Binary} is missing (scripts/install-deps.sh installs etcd-server)";

    private sealed record Member(string Name, int ClientPort, int PeerPort, string DataDir)
    {
        public Process? Process;
        public string Log => DataDir + ".log";
    }

    private readonly TempDirectory dir = new("microseg-etcd-");
    private readonly List<Member> members = [];
    private readonly string token = "microseg-test-" + Guid.NewGuid().ToString("N")[..8];

    public EtcdCluster(int size = 1)
    {
        var ports = FreePorts(2 * size);
        for (var i = 0; i < size; i++)
            members.Add(new Member($"m{i}", ports[2 * i], ports[2 * i + 1], Path.Combine(dir.Path, $"m{i}")));
        try
        {
            foreach (var m in members) Start(m);
            WaitReady();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>"etcd://127.0.0.1:P1,127.0.0.1:P2,...".</summary>
    public string Url => EtcdStoreOptions.Scheme + string.Join(',', members.Select(m => $"127.0.0.1:{m.ClientPort}"));

    public EtcdConfigStore Store(string prefix = EtcdStoreOptions.DefaultPrefix, TimeSpan? callTimeout = null) =>
        new(EtcdStoreOptions.Parse(Url, _ => null) with { Prefix = prefix })
        {
            CallTimeout = callTimeout ?? TimeSpan.FromSeconds(5),
            RetryInterval = TimeSpan.FromMilliseconds(200),
            NodeLeaseTtl = TimeSpan.FromSeconds(6),
        };

    /// <summary>etcdctl against the cluster (for what a test does behind the store's back).</summary>
    public string Ctl(params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/etcdctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["ETCDCTL_API"] = "3";
        psi.ArgumentList.Add("--endpoints=" + string.Join(',', members.Where(m => m.Process is not null).Select(m => $"http://127.0.0.1:{m.ClientPort}")));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"etcdctl {string.Join(' ', args)}: {error}");
        return output;
    }

    public void Kill(int member)
    {
        var m = members[member];
        if (m.Process is not { } p) return;
        p.Kill();
        p.WaitForExit();
        p.Dispose();
        m.Process = null;
    }

    public void KillAll()
    {
        for (var i = 0; i < members.Count; i++) Kill(i);
    }

    public void Restart(int member)
    {
        Start(members[member]);
    }

    public void RestartAll()
    {
        foreach (var m in members) if (m.Process is null) Start(m);
        WaitReady();
    }

    private void Start(Member m)
    {
        var cluster = string.Join(',', members.Select(x => $"{x.Name}=http://127.0.0.1:{x.PeerPort}"));
        var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = false, RedirectStandardError = false, UseShellExecute = false };
        psi.ArgumentList.Add("--name=" + m.Name);
        psi.ArgumentList.Add("--data-dir=" + m.DataDir);
        psi.ArgumentList.Add($"--listen-client-urls=http://127.0.0.1:{m.ClientPort}");
        psi.ArgumentList.Add($"--advertise-client-urls=http://127.0.0.1:{m.ClientPort}");
        psi.ArgumentList.Add($"--listen-peer-urls=http://127.0.0.1:{m.PeerPort}");
        psi.ArgumentList.Add($"--initial-advertise-peer-urls=http://127.0.0.1:{m.PeerPort}");
        psi.ArgumentList.Add("--initial-cluster=" + cluster);
        psi.ArgumentList.Add("--initial-cluster-token=" + token);
        psi.ArgumentList.Add("--initial-cluster-state=new");
        // Quick elections on a loaded test machine, and little disk: snapshots rarely.
        psi.ArgumentList.Add("--heartbeat-interval=50");
        psi.ArgumentList.Add("--election-timeout=500");
        psi.ArgumentList.Add("--log-level=error");
        psi.ArgumentList.Add("--log-outputs=" + m.Log);
        psi.ArgumentList.Add("--logger=zap");
        psi.Environment["ETCD_UNSUPPORTED_ARCH"] = "";
        m.Process = Process.Start(psi)!;
    }

    private void WaitReady()
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        using var store = Store(callTimeout: TimeSpan.FromSeconds(1));
        while (true)
        {
            try
            {
                store.ReadRunning();
                store.EditTokens(_ => null);
                // Every running member answers (a write needs a leader, a read on each member too).
                Ctl("endpoint", "health");
                return;
            }
            catch (Exception) when (DateTime.UtcNow < until)
            {
                if (members.FirstOrDefault(m => m.Process is { HasExited: true }) is { } dead)
                    throw new InvalidOperationException($"etcd member {dead.Name} exited: {ReadLog(dead)}");
                Thread.Sleep(100);
            }
        }
    }

    private static string ReadLog(Member m) => File.Exists(m.Log) ? File.ReadAllText(m.Log) : "(no log)";

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        foreach (var l in listeners) l.Start();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var l in listeners) l.Stop();
        return ports;
    }

    public void Dispose()
    {
        KillAll();
        dir.Dispose();
    }
}
