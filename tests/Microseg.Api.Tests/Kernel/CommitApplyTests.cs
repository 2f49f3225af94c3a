// A commit through the API applies on this host for real: a private bpffs under /run, a guest
// NIC (a veth named as LXC names them), and the enforced NIC in the commit's answer. Everything
// it makes, it removes: the agent's pins and run state, the mount, the veth.
using System.Diagnostics;
using Microseg.Agent;
using Microseg.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microseg.Api.Tests.Kernel;

public sealed class CommitApplyTests
{
    private static void Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {err}");
    }

    [KernelFact]
    public async Task Commit_applies_through_the_agent_and_reports_the_enforced_nic()
    {
        var root = Path.Combine("/run", "microseg-api-test-" + Guid.NewGuid().ToString("N")[..10]);
        var bpffs = Path.Combine(root, "bpffs");
        var vmid = Random.Shared.Next(900_000, 999_999);
        var nic = $"veth{vmid}i0";
        Directory.CreateDirectory(bpffs);
        Run("mount", "-t", "bpf", "bpffs", bpffs);
        var agent = new AgentOptions(bpffs, Path.Combine(root, "run"), "kernelnode");
        try
        {
            Run("ip", "link", "add", nic, "type", "veth", "peer", "name", $"vp{vmid}");
            await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n", agent);
            await api.Ok(HttpMethod.Post, "rule", new { src = "db", dst = "web", action = "allow" });
            await api.Ok(HttpMethod.Post, "assignment", new { vmid, iface = 0, group = "web" });

            var commit = await api.Ok(HttpMethod.Post, "commit");
            var apply = commit.GetProperty("apply");
            Assert.True(apply.GetProperty("ok").GetBoolean(), apply.GetRawText());
            Assert.Equal("loaded", apply.Str("programs"));
            var enforced = apply.GetProperty("enforced").EnumerateArray().Single();
            Assert.Equal((nic, "web"), (enforced.Str("interface"), enforced.Str("group")));

            var status = await api.Ok(HttpMethod.Get, "status");
            var agentStatus = status.GetProperty("agent");
            Assert.True(agentStatus.GetProperty("loaded").GetBoolean(), agentStatus.GetRawText());
            var seen = agentStatus.GetProperty("nics").EnumerateArray().Single();
            Assert.Equal((nic, 10L), (seen.Str("interface"), seen.Int("mark")));
            Assert.True(seen.GetProperty("ingress").GetBoolean() && seen.GetProperty("egress").GetBoolean());
            Assert.True(status.GetProperty("last_apply").GetProperty("ok").GetBoolean());
        }
        finally
        {
            new MicrosegAgent(agent, new Microseg.Agent.Subsystems.NetlinkInterfaces(), NullLoggerFactory.Instance).Clear();
            try { Run("ip", "link", "del", nic); }
            catch (InvalidOperationException) { /* never created: the test failed before */ }
            Run("umount", bpffs);
            Directory.Delete(root, recursive: true);
        }
    }
}
