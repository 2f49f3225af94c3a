// Many guests starting at once: plug-path runs share the lock, a full apply takes it alone,
// and every assigned NIC ends up enforced.
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class ConcurrencyTests
{
    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void Fifty_concurrent_plug_runs_during_a_full_apply_end_with_every_nic_enforced(string attach)
    {
        const int count = 50;
        var policy = new StringBuilder("group: a\n\tmark 1\n\ngroup: b\n\tmark 2\n\nrule: p1-2\n\tsrc a\n\tdst b\n\taction allow\n");
        for (int i = 0; i < count; i++)
            policy.Append($"\nassignment: vm{1000 + i}i0\n\tvmid {1000 + i}\n\tiface 0\n\tgroup {(i % 2 == 0 ? "a" : "b")}\n");
        // Two real guests for traffic, the rest are host-side NICs only (cheap veth pairs).
        using var lab = new LabGuard(policy.ToString(), [("g0", 1000, 0), ("g1", 1001, 0)], up: false, attach: attach);
        lab.Lab.Up(TextWriter.Null);
        var hostNs = lab.Lab.Namespace("node1");
        for (int i = 2; i < count; i++)
            Shell.Ip("-n", hostNs, "link", "add", $"veth{1000 + i}i0", "type", "veth", "peer", "name", $"p{1000 + i}");
        lab.Microseg("clear");

        var runs = new List<Task<ShellResult>> { Task.Run(() => lab.MicrosegResult("apply")) };
        for (int i = 0; i < count; i++)
        {
            var nic = $"veth{1000 + i}i0";
            runs.Add(Task.Run(() => lab.MicrosegResult("apply", nic)));
        }
        Task.WaitAll([.. runs]);
        foreach (var r in runs.Select(t => t.Result))
            Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");

        using var status = JsonDocument.Parse(lab.Microseg("status", "--json"));
        var nics = status.RootElement.GetProperty("policy").GetProperty("nics").EnumerateArray().ToList();
        Assert.Equal(count, nics.Count);
        Assert.All(nics, n => Assert.True(n.GetProperty("ingress").GetBoolean() && n.GetProperty("egress").GetBoolean(), n.ToString()));
        Assert.Empty(status.RootElement.GetProperty("warnings").EnumerateArray());
        var udp = lab.Udp();
        Assert.True(udp[("g0", "g1")]);   // a -> b: allow
        Assert.False(udp[("g1", "g0")]);  // b -> a: no rule
    }
}
