// Three lab hosts joined by VXLAN-GBP, each with an etcd member on its underlay address (a
// 3-member cluster) and a resident agent on `--store etcd://...`, all owned by one test and
// removed on Dispose, even when the test fails: agents, members, namespaces, pins. For the etcd
// tests and the cluster benchmark.
using System.Diagnostics;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Lab;

public sealed class LabCluster : IDisposable
{
    /// <summary>web (nodea) and db (nodeb) may talk both ways; app (nodec) has no rule.</summary>
    public const string Policy = """
        group: web
        	mark 10

        group: db
        	mark 20

        group: app
        	mark 30

        rule: p10-20
        	src web
        	dst db
        	action allow

        rule: p20-10
        	src db
        	dst web
        	action allow

        assignment: vm110i0
        	vmid 110
        	iface 0
        	group web

        assignment: vm120i0
        	vmid 120
        	iface 0
        	group db

        assignment: vm130i0
        	vmid 130
        	iface 0
        	group app

        """;

    public static readonly string[] Nodes = ["nodea", "nodeb", "nodec"];

    private readonly LabAgentProcess?[] agents = new LabAgentProcess?[3];

    public LabCluster(string microsegBinary)
    {
        var name = "e" + Guid.NewGuid().ToString("N")[..7];
        LabGuest[] guests =
        [
            new("web", "nodea", 110, 0, "10.83.0.110/24"),
            new("db", "nodeb", 120, 0, "10.83.0.120/24"),
            new("app", "nodec", 130, 0, "10.83.0.130/24"),
        ];
        var spec = new LabSpec(name, Policy, [.. Nodes.Select(n => new LabHost(n))], guests, LabCarrier.VxlanGbp);
        var probe = new LabRig(spec, microsegBinary);
        if (!File.Exists(probe.MicrosegBinary)) throw new InvalidOperationException($"{probe.MicrosegBinary} is missing: run 'make build' first");
        try
        {
            probe.Build(TextWriter.Null);
            Etcd = new LabEtcd([.. Nodes.Select((n, i) => new LabEtcd.Place(probe.Namespace(n), LabNetwork.UnderlayIpv4(i).ToString()))]);
            Lab = probe;
            // The policy the lab committed to its directory goes into etcd, its version with it.
            var migrated = Microseg("nodea", "store", "migrate", "--store", Lab.ConfigDirectory, "--to", Etcd.Url);
            if (migrated.ExitCode != 0) throw new LabException($"store migrate: {migrated.Stderr}");
            for (var i = 0; i < 3; i++) StartAgent(i);
        }
        catch
        {
            Dispose();
            LabRig.Down(spec.Name);
            throw;
        }
    }

    public LabRig Lab { get; } = null!;
    public LabEtcd Etcd { get; } = null!;

    public int Count => agents.Length;

    public LabHost Host(string name) => Lab.Host(name);

    public LabAgentProcess Agent(int node) => agents[node]!;

    public void StartAgent(int node)
    {
        agents[node]?.Dispose();
        agents[node] = new LabAgentProcess(Lab, Host(Nodes[node]), Etcd.Url);
    }

    /// <summary>`microseg ARGS` on a node, against etcd (exit code, stdout, stderr).</summary>
    public ShellResult Microseg(string node, params string[] args) =>
        Shell.RunWith(new Dictionary<string, string> { ["MICROSEG_STORE"] = Etcd.Url }, "ip", ["netns", "exec", Lab.Namespace(node), Lab.MicrosegBinary, .. args]);

    /// <summary>Waits until every agent has applied <paramref name="version"/>.</summary>
    public void WaitAllApplied(long version, int seconds = 60)
    {
        foreach (var a in agents) a!.WaitForLog($"applied snapshot version {version}:", seconds: seconds);
    }

    /// <summary>One-way UDP between every pair of guests: which pairs get through.</summary>
    public HashSet<string> Delivered() =>
        [.. new Probes(Lab).OneWayUdp(Lab.Spec.Guests).Where(p => p.Value).Select(p => $"{p.Key.Src}->{p.Key.Dst}")];

    public void Dispose()
    {
        foreach (var a in agents) a?.Dispose();
        Etcd?.Dispose();
        if (Lab is not null) LabRig.Down(Lab.Spec.Name);
    }
}

/// <summary>`microseg agent` in a lab host's namespace on the etcd store; its log is kept, each
/// line with the time it arrived.</summary>
public sealed class LabAgentProcess : IDisposable
{
    private readonly Process process;
    private readonly List<string> lines = [];
    private readonly List<(DateTime At, string Line)> timed = [];

    public LabAgentProcess(LabRig lab, LabHost host, string store)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", lab.Namespace(host.Name), lab.MicrosegBinary, "agent", "--store", store,
                     "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name })
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("WATCHDOG_USEC");
        process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (lines)
            {
                lines.Add(e.Data);
                timed.Add((DateTime.UtcNow, e.Data));
            }
        };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        Node = host.Name;
    }

    public string Node { get; }

    public string Log
    {
        get { lock (lines) return string.Join('\n', lines); }
    }

    public int Count(string contains)
    {
        lock (lines) return lines.Count(l => l.Contains(contains, StringComparison.Ordinal));
    }

    /// <summary>When the first line containing <paramref name="contains"/> arrived, or null.</summary>
    public DateTime? FirstAt(string contains)
    {
        lock (lines) return timed.FirstOrDefault(t => t.Line.Contains(contains, StringComparison.Ordinal)) is { Line: not null } hit ? hit.At : null;
    }

    /// <summary>Waits until the agent has logged <paramref name="count"/> lines containing
    /// <paramref name="contains"/>; throws <see cref="LabException"/> with its log when it does not.</summary>
    public void WaitForLog(string contains, int count = 1, int seconds = 60)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (Count(contains) < count && !process.HasExited && DateTime.UtcNow < until) Thread.Sleep(20);
        if (Count(contains) < count)
            throw new LabException($"[{Node}] the agent did not log '{contains}' ({count}x) within {seconds} s{(process.HasExited ? $" (it exited {process.ExitCode})" : "")}:\n{Log}");
    }

    public void Dispose()
    {
        try { if (!process.HasExited) process.Kill(); process.WaitForExit(); }
        catch (InvalidOperationException) { }
        process.Dispose();
    }
}
