// Real etcd members for tests and benchmarks: each on free localhost ports (or on a lab
// host's address in its namespace) with its own data directory, started from the etcd-server
// package's binary, killed and removed with the cluster. A member can be killed and started
// again, or all of them stopped.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Microseg.Lab;

public sealed class LabEtcd : IDisposable
{
    public const string Binary = "/usr/bin/etcd";

    /// <summary>Why no member can be started here, or null.</summary>
    public static string? Missing => File.Exists(Binary) ? null : $"{Binary} is missing (scripts/install-deps.sh installs etcd-server)";

    /// <summary>Where a member runs: in the test's network namespace on 127.0.0.1, or in a lab
    /// host's namespace on that host's address.</summary>
    public sealed record Place(string? Namespace, string Address);

    private sealed record Member(string Name, Place Place, int ClientPort, int PeerPort, string DataDir)
    {
        public string ClientUrl => $"http://{Place.Address}:{ClientPort}";
        public string PeerUrl => $"http://{Place.Address}:{PeerPort}";
        public Process? Process;
        public string Log => DataDir + ".log";
    }

    private readonly string dir = Directory.CreateTempSubdirectory("microseg-etcd-").FullName;
    private readonly List<Member> members = [];
    private readonly string token = "microseg-test-" + Guid.NewGuid().ToString("N")[..8];

    public LabEtcd(int size = 1) : this([.. Enumerable.Repeat(new Place(null, "127.0.0.1"), size)]) { }

    /// <summary>One member per place: on free ports of 127.0.0.1 here, on etcd's own ports
    /// (2379, 2380) in a namespace of its own.</summary>
    public LabEtcd(IReadOnlyList<Place> places)
    {
        var ports = FreePorts(2 * places.Count);
        for (var i = 0; i < places.Count; i++)
        {
            var (client, peer) = places[i].Namespace is null ? (ports[2 * i], ports[2 * i + 1]) : (2379, 2380);
            members.Add(new Member($"m{i}", places[i], client, peer, Path.Combine(dir, $"m{i}")));
        }
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
    public string Url => "etcd://" + string.Join(',', members.Select(m => $"{m.Place.Address}:{m.ClientPort}"));

    /// <summary>The client URLs of the members ("http://127.0.0.1:P").</summary>
    public IReadOnlyList<string> ClientUrls => [.. members.Select(m => m.ClientUrl)];

    /// <summary>etcdctl against the cluster (for what a test does behind the store's back).</summary>
    public string Ctl(params string[] args)
    {
        var live = members.Where(m => m.Process is not null).ToList();
        var psi = In(live.Select(m => m.Place.Namespace).FirstOrDefault(), "/usr/bin/etcdctl");
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.Environment["ETCDCTL_API"] = "3";
        psi.ArgumentList.Add("--endpoints=" + string.Join(',', live.Select(m => m.ClientUrl)));
        psi.ArgumentList.Add("--command-timeout=3s");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new LabException($"etcdctl {string.Join(' ', args)}: {error}");
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
        var cluster = string.Join(',', members.Select(x => $"{x.Name}={x.PeerUrl}"));
        var psi = In(m.Place.Namespace, Binary);
        psi.ArgumentList.Add("--name=" + m.Name);
        psi.ArgumentList.Add("--data-dir=" + m.DataDir);
        psi.ArgumentList.Add($"--listen-client-urls={m.ClientUrl}");
        psi.ArgumentList.Add($"--advertise-client-urls={m.ClientUrl}");
        psi.ArgumentList.Add($"--listen-peer-urls={m.PeerUrl}");
        psi.ArgumentList.Add($"--initial-advertise-peer-urls={m.PeerUrl}");
        psi.ArgumentList.Add("--initial-cluster=" + cluster);
        psi.ArgumentList.Add("--initial-cluster-token=" + token);
        psi.ArgumentList.Add("--initial-cluster-state=new");
        // Quick elections on a loaded test machine, and little disk: snapshots rarely.
        psi.ArgumentList.Add("--heartbeat-interval=50");
        psi.ArgumentList.Add("--election-timeout=500");
        psi.ArgumentList.Add("--log-level=error");
        psi.ArgumentList.Add("--log-outputs=" + m.Log);
        psi.ArgumentList.Add("--logger=zap");
        m.Process = Process.Start(psi)!;
    }

    /// <summary><paramref name="program"/>, in <paramref name="ns"/> when given (ip netns exec
    /// replaces itself with the program: the process is the program's).</summary>
    private static ProcessStartInfo In(string? ns, string program)
    {
        var psi = new ProcessStartInfo(ns is null ? program : "ip") { UseShellExecute = false };
        if (ns is not null) foreach (var a in new[] { "netns", "exec", ns, program }) psi.ArgumentList.Add(a);
        return psi;
    }

    private void WaitReady()
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                // Every running member answers, and writes go through (there is a leader).
                Ctl("endpoint", "health");
                Ctl("put", "/microseg-test/ready", "1");
                return;
            }
            catch (Exception) when (DateTime.UtcNow < until)
            {
                if (members.FirstOrDefault(m => m.Process is { HasExited: true }) is { } dead)
                    throw new LabException($"etcd member {dead.Name} exited: {ReadLog(dead)}");
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
        try { Directory.Delete(dir, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }
}
