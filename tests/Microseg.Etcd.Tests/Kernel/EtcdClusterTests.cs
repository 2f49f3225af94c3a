// Three hosts of the lab over VXLAN-GBP, a 3-member etcd cluster, an agent on each host: what
// a cluster's users check, with real packets between the hosts' guests.
using Microseg.Lab;
using Microseg.TestSupport;
using Xunit.Abstractions;

namespace Microseg.Etcd.Tests.Kernel;

public sealed class EtcdClusterTests(ITestOutputHelper output)
{
    private static readonly string[] Initial = ["web->db", "db->web"];
    private static readonly string[] AppToDb = ["web->db", "db->web", "app->db"];

    [KernelFact]
    public void A_commit_on_one_node_is_enforced_on_all_edits_conflict_and_losing_etcd_never_loosens_enforcement()
    {
        Assert.Null(LabEtcd.Missing);
        using var lab = new LabCluster(RepoPaths.MicrosegBinary);
        lab.WaitAllApplied(1);
        Assert.Equal(Initial.Order(), lab.Delivered().Order());

        // A commit on nodec reaches every node's kernel.
        Check(lab.Microseg("nodec", "rule", "add", "--src", "app", "--dst", "db", "--action", "allow"));
        var commit = Check(lab.Microseg("nodec", "commit"));
        Assert.Contains("committed version 2", commit);
        lab.WaitAllApplied(2);
        Assert.Equal(AppToDb.Order(), lab.Delivered().Order());
        // Node records follow the applies (each agent writes its own, asynchronously).
        Assert.True(Poll(() => lab.Microseg("nodeb", "status", "--cluster").Stdout.Contains("3/3 nodes at version 2")),
            lab.Microseg("nodeb", "status", "--cluster").Stdout);
        output.WriteLine(lab.Microseg("nodeb", "status", "--cluster").Stdout);

        // Two editors on different nodes with the same digest: one wins, the other gets a conflict.
        var digest = Digest(Check(lab.Microseg("nodea", "group", "add", "extra1", "--mark", "41")));
        var first = lab.Microseg("nodea", "group", "add", "extra2", "--mark", "42", "--digest", digest);
        var second = lab.Microseg("nodeb", "group", "add", "extra3", "--mark", "43", "--digest", digest);
        Assert.Equal(0, first.ExitCode);
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains("changed since it was read", second.Stderr);
        var groups = Check(lab.Microseg("nodec", "group", "list"));
        Assert.Contains("extra1", groups);
        Assert.Contains("extra2", groups);
        Assert.DoesNotContain("extra3", groups);

        // One member killed: edits and convergence still work.
        lab.Etcd.Kill(1);
        Check(lab.Microseg("nodeb", "commit"));
        lab.WaitAllApplied(3);
        Assert.True(Poll(() => lab.Microseg("nodea", "status", "--cluster").Stdout.Contains("3/3 nodes at version 3")),
            lab.Microseg("nodea", "status", "--cluster").Stdout);

        // All stopped: packets unchanged on every node, status says the store is unreachable; an
        // agent restarted meanwhile keeps what its kernel enforces.
        lab.Etcd.KillAll();
        foreach (var n in new[] { 0, 1, 2 }) lab.Agent(n).WaitForLog("etcd unreachable", seconds: 30);
        Assert.Equal(AppToDb.Order(), lab.Delivered().Order());
        var unreachable = lab.Microseg("nodea", "status", "--cluster");
        Assert.NotEqual(0, unreachable.ExitCode);
        Assert.Contains("etcd unreachable", unreachable.Stderr);
        lab.StartAgent(2);
        lab.Agent(2).WaitForLog("etcd unreachable", seconds: 30);
        Assert.Equal(AppToDb.Order(), lab.Delivered().Order());

        // Members back: a commit made now reaches every node, the restarted agent included.
        lab.Etcd.RestartAll();
        Check(lab.Microseg("nodea", "rule", "del", "p30-20"));
        Assert.Contains("committed version 4", Check(lab.Microseg("nodea", "commit")));
        lab.WaitAllApplied(4, seconds: 90);
        Assert.Equal(Initial.Order(), lab.Delivered().Order());
        Assert.True(Poll(() => lab.Microseg("nodec", "status", "--cluster").Stdout.Contains("3/3 nodes at version 4")),
            lab.Microseg("nodec", "status", "--cluster").Stdout);
    }

    [KernelFact]
    public void An_invalid_snapshot_written_into_etcd_touches_no_kernel_and_every_node_reports_it()
    {
        Assert.Null(LabEtcd.Missing);
        using var lab = new LabCluster(RepoPaths.MicrosegBinary);
        lab.WaitAllApplied(1);
        Assert.Equal(Initial.Order(), lab.Delivered().Order());

        // Version 2 would let app reach db, but assigns web a mark that db also has: invalid.
        var invalid = """
            {"version": 2, "ids": {
              "web": {"type": "group", "id": "web", "mark": 20},
              "db": {"type": "group", "id": "db", "mark": 20},
              "app": {"type": "group", "id": "app", "mark": 30},
              "p30-20": {"type": "rule", "id": "p30-20", "src": "app", "dst": "db", "action": "allow"},
              "vm120i0": {"type": "assignment", "id": "vm120i0", "vmid": 120, "iface": 0, "group": "db"} } }
            """;
        lab.Etcd.Ctl("put", "/microseg/running", invalid);
        foreach (var n in new[] { 0, 1, 2 }) lab.Agent(n).WaitForLog("the committed snapshot is invalid, version 1 stays enforced");
        Assert.Equal(Initial.Order(), lab.Delivered().Order());
        var status = lab.Microseg("nodea", "status", "--cluster");
        output.WriteLine(status.Stdout);
        Assert.NotEqual(0, status.ExitCode);
        Assert.True(Poll(() => lab.Microseg("nodea", "status", "--cluster").Stdout.Split('\n').Count(l => l.Contains("error: version 2 is invalid")) == 3),
            lab.Microseg("nodea", "status", "--cluster").Stdout);
        Assert.Contains("0/3 nodes at version 2", lab.Microseg("nodea", "status", "--cluster").Stdout);

        // Fixed by a commit: every node converges.
        Assert.Contains("committed version 3", Check(lab.Microseg("nodeb", "commit")));
        lab.WaitAllApplied(3);
        Assert.True(Poll(() => lab.Microseg("nodeb", "status", "--cluster").ExitCode == 0), lab.Microseg("nodeb", "status", "--cluster").Stdout);
    }

    private static string Check(Microseg.Lab.ShellResult r)
    {
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}{r.Stdout}");
        return r.Stdout;
    }

    /// <summary>The digest an edit prints: "... (digest 17)".</summary>
    private static string Digest(string output) =>
        System.Text.RegularExpressions.Regex.Match(output, @"\(digest (\d+)\)").Groups[1].Value is { Length: > 0 } d ? d
        : throw new InvalidOperationException($"no digest in: {output}");

    private static bool Poll(Func<bool> done, int seconds = 30)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!done())
        {
            if (DateTime.UtcNow > until) return false;
            Thread.Sleep(200);
        }
        return true;
    }
}
