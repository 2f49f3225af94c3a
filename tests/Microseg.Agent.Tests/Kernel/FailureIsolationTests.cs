// A subsystem that cannot do its part fails the command, but only its own part: the subsystems
// before and after it still run, enforce and report.
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class FailureIsolationTests
{
    private static readonly string Example = File.ReadAllText(Path.Combine(RepoPaths.Root, "examples", "microseg.cfg"));

    [KernelFact]
    public void A_forwarder_that_cannot_load_fails_the_apply_while_the_policy_still_enforces_and_reports()
    {
        using var lab = new LabGuard(Example, [("ct100", 100, 0), ("ct101", 101, 0), ("ct200", 200, 1)]);
        var ns = lab.Lab.Namespace(lab.Host.Name);
        foreach (var device in new[] { "rtr9", "phys9" })
        {
            Shell.Ip("-n", ns, "link", "add", device, "type", "veth", "peer", "name", device + "p");
            Shell.Ip("-n", ns, "link", "set", device, "up");
        }
        lab.Lab.Commit(Example + "\nforwarder: fwd9\n\trouter rtr9\n\tphysical phys9\n");
        lab.Microseg("clear");
        Assert.True(lab.Udp()[("ct200", "ct101")], "nothing is enforced after clear");

        var bogus = Path.Combine(Path.GetTempPath(), $"bogus-{Guid.NewGuid():N}.o");
        File.WriteAllBytes(bogus, File.ReadAllBytes(RepoPaths.BpfObject("forwarder.bpf.o"))[..512]);
        try
        {
            var env = new Dictionary<string, string> { [Subsystems.EmbeddedObject.OverrideVariable("forwarder")] = bogus };
            var r = lab.Lab.MicrosegResult(lab.Host, env, "apply");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("policy: programs loaded; enforced 3 NICs: veth100i0 (wiki), veth101i0 (wol), veth200i1 (db)", r.Stdout);
            Assert.Contains("maps: verdicts +3 -0, nic_group +3 -0; links +6 ~0 -0", r.Stdout); // three 64-source words: dst wiki (db), dst db (web, wiki, wol), dst wol (db, denied by p20-12: its counter slot)
            Assert.Contains("carrier: no SRv6 carrier interface on this node", r.Stdout); // the one after policy ran too
            Assert.Contains("forwarder: not applied", r.Stdout);
            Assert.Contains("microseg: forwarder: ", r.Stderr);
            Assert.DoesNotContain("microseg: policy", r.Stderr);

            var udp = lab.Udp();
            Assert.False(udp[("ct200", "ct101")]); // db -> wol: deny, enforced by this apply
            Assert.True(udp[("ct200", "ct100")]);  // db -> wiki: allow
        }
        finally { File.Delete(bogus); }
    }
}
