// A host over what the policy maps hold: apply and the plug path refuse before touching the
// kernel, with the numbers and the limit on one line, and the last good state stays enforced.
// The bounds are lowered for the test (MICROSEG_TEST_POLICY_MAX_*), so that crossing them
// needs 4 NICs instead of 1,025.
using System.Text.Json;
using Microseg.Agent.Policy;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class CapacityTests
{
    private static readonly string Example = File.ReadAllText(Path.Combine(RepoPaths.Root, "examples", "microseg.cfg"));

    [KernelFact]
    public void A_plan_over_the_map_bounds_fails_before_the_kernel_is_touched_and_the_last_state_stays()
    {
        // wiki, wol and db: 3 local destination groups, 3 NICs; ct300 is unassigned.
        using var lab = new LabGuard(Example, [("ct100", 100, 0), ("ct101", 101, 0), ("ct200", 200, 1), ("ct300", 300, 0)]);
        var before = State(lab);
        var udpBefore = lab.Udp();

        // The next policy assigns ct300 to a fourth group and changes the verdicts of the others.
        var grown = Example.Replace("rule: p20-12\n\tsrc db\n\tdst wol\n\taction deny\n", "") +
            "\ngroup: extra\n\tmark 30\n\nassignment: vm300i0\n\tvmid 300\n\tiface 0\n\tgroup extra\n";
        lab.Lab.Commit(grown);

        var dsts = new Dictionary<string, string> { [PolicyCapacity.MaxDestinationsVariable] = "3" };
        var full = lab.Lab.MicrosegResult(lab.Host, dsts, "apply");
        Assert.Equal(1, full.ExitCode);
        // The CLI's error: one line, the count and the limit (the log line before it says the same).
        Assert.Equal("microseg: policy: this host needs 4 local destination groups (up to 4,096 verdict words); the verdict map holds 3 (3,072 words): " +
            "nothing changed, the last applied policy stays enforced", Error(full.Stderr));

        var plug = lab.Lab.MicrosegResult(lab.Host, dsts, "apply", "veth300i0");
        Assert.Equal(1, plug.ExitCode);
        Assert.Equal("microseg: policy: apply veth300i0: this host would have 4 local destination groups; the verdict map holds 3 (3,072 words): " +
            "nothing changed, the NIC is not enforced", Error(plug.Stderr));

        var nics = new Dictionary<string, string> { [PolicyCapacity.MaxNicsVariable] = "3" };
        var tooMany = lab.Lab.MicrosegResult(lab.Host, nics, "apply");
        Assert.Equal(1, tooMany.ExitCode);
        Assert.Equal("microseg: policy: this host has 4 NICs to enforce; the nic_group map holds 3: nothing changed, the last applied policy stays enforced", Error(tooMany.Stderr));

        Assert.Equal(before, State(lab));
        Assert.Equal(udpBefore, lab.Udp());

        // Within the bounds the same policy applies.
        var ok = lab.MicrosegResult("apply");
        Assert.True(ok.ExitCode == 0, $"apply: exit {ok.ExitCode}: {ok.Stderr}");
        Assert.NotEqual(before, State(lab));
        Assert.True(lab.Udp()[("ct200", "ct101")]); // db -> wol: the deny rule is gone
    }

    private static string Error(string stderr) =>
        Assert.Single(stderr.Split('\n'), l => l.StartsWith("microseg: policy: ", StringComparison.Ordinal));

    /// <summary>Every verdict word, every nic_group entry and the links, as one comparable string.</summary>
    private static string State(LabGuard lab)
    {
        var root = Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy");
        using var verdicts = BpfHashMap<VerdictKey, VerdictValue>.OpenPinned(Path.Combine(root, PolicyAbi.VerdictsMap));
        using var nicGroup = BpfHashMap<uint, NicInfo>.OpenPinned(Path.Combine(root, PolicyAbi.NicGroupMap));
        var words = verdicts.Entries().Select(e => $"{e.Key.Dst}/{e.Key.SrcHi}={e.Value.Allow:x}").Order(StringComparer.Ordinal);
        var groups = nicGroup.Entries().Select(e => $"{e.Key}={e.Value.Group}").Order(StringComparer.Ordinal);
        var links = Directory.GetFiles(Path.Combine(root, "links")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        var policy = JsonDocument.Parse(lab.Microseg("status", "--json")).RootElement.GetProperty("policy");
        var attached = policy.GetProperty("nics").EnumerateArray().Select(n =>
            $"{n.GetProperty("ifindex")}:{n.GetProperty("mark")}:{n.GetProperty("ingress")}:{n.GetProperty("egress")}");
        return $"{string.Join(",", words)} | {string.Join(",", groups)} | {string.Join(",", links)} | " +
            $"{policy.GetProperty("ingress_program_id")} {policy.GetProperty("egress_program_id")} {string.Join(",", attached)}";
    }
}
