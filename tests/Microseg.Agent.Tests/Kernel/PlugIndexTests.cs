// The plug index on real guests: `apply IFACE` with a fresh index (no snapshot read, also for
// a group new on the host), a stale
// one (another snapshot committed since the full apply), a corrupt one and none at all enforces
// exactly what the plug path with the snapshot enforces, checked with real packets between every
// pair of guests against the engine, and leaves nothing for the next full apply to change.
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class PlugIndexTests
{
    private static readonly string Example = File.ReadAllText(Path.Combine(RepoPaths.Root, "examples", "microseg.cfg"));

    // Two NICs appear after the full apply: ct102 in wol (no NIC of wol on the host yet: its
    // words and counter slots are planned from the index's part of the snapshot) and ct103 in
    // wiki (ct100's group: already on the host, only the NIC is written).
    private static readonly string Policy = Example +
        "\nrule: p11-12\n\tsrc wiki\n\tdst wol\n\taction allow\n" +
        "\nassignment: vm102i0\n\tvmid 102\n\tiface 0\n\tgroup wol\n" +
        "\nassignment: vm103i0\n\tvmid 103\n\tiface 0\n\tgroup wiki\n";

    public enum IndexState { Fresh, Stale, Corrupt, Truncated, Missing }

    [KernelTheory]
    [InlineData(IndexState.Fresh, "tcx")]
    [InlineData(IndexState.Fresh, "tc")]
    [InlineData(IndexState.Stale, "tcx")]
    [InlineData(IndexState.Corrupt, "tcx")]
    [InlineData(IndexState.Truncated, "tc")]
    [InlineData(IndexState.Missing, "tcx")]
    public void Plug_enforces_the_same_whatever_the_index(IndexState state, string attach)
    {
        using var lab = new LabGuard(Policy, [("ct100", 100, 0), ("ct200", 200, 1)], attach: attach);
        var index = Path.Combine(lab.Lab.RunDirectory(lab.Host), "policy", "plug-index");
        Assert.True(File.Exists(index), "the full apply writes the plug index");
        switch (state)
        {
            case IndexState.Stale:
                // A new snapshot since the full apply, where db may reach wol: the index (which
                // says db -> wol deny) must not be used.
                lab.Lab.Commit(Policy.Replace("rule: p20-12\n\tsrc db\n\tdst wol\n\taction deny\n", "rule: p20-12\n\tsrc db\n\tdst wol\n\taction allow\n"));
                break;
            case IndexState.Corrupt:
                var bytes = File.ReadAllBytes(index);
                bytes[bytes.Length / 2] ^= 0x5a;
                File.WriteAllBytes(index, bytes);
                break;
            case IndexState.Truncated:
                File.WriteAllBytes(index, File.ReadAllBytes(index)[..40]);
                break;
            case IndexState.Missing:
                File.Delete(index);
                break;
        }

        var late = new[] { new LabGuest("ct102", "node1", 102, 0, "10.78.0.99/16"), new LabGuest("ct103", "node1", 103, 0, "10.78.0.98/16") };
        var grown = new Microseg.Lab.Lab(lab.Lab.Spec with { Guests = [.. lab.Lab.Spec.Guests, .. late] }, lab.Lab.MicrosegBinary) { AgentEnvironment = lab.Lab.AgentEnvironment };
        foreach (var g in late) grown.CreateGuest(g);
        var outputs = new List<string>();
        foreach (var (g, group) in new[] { (late[0], "wol"), (late[1], "wiki") })
        {
            var r = lab.MicrosegResult("apply", g.HostNic, "-v");
            Assert.True(r.ExitCode == 0, $"apply {g.HostNic}: exit {r.ExitCode}: {r.Stderr}");
            Assert.Contains($"enforced 1 NIC: {g.HostNic} ({group})", r.Stdout);
            // The index is used exactly when it is of the committed snapshot, for a group new on
            // the host as for one already there.
            Assert.Equal(state != IndexState.Fresh, r.Stderr.Contains($"plug {g.HostNic} reads the snapshot", StringComparison.Ordinal));
            outputs.Add(r.Stdout);
        }
        // wol's words are written with its first NIC; wiki's were on the host already.
        Assert.DoesNotContain("verdicts +0 ", outputs[0]);
        Assert.Contains("verdicts +0 ", outputs[1]);

        var report = LabCheck.Run(grown);
        Assert.True(report.AllMatch, LabCheck.Render(grown, report));
        var udp = report.Udp.ToDictionary(p => (p.Src.Name, p.Dst.Name), p => p.Observed);
        Assert.Equal(state == IndexState.Stale, udp[("ct200", "ct102")]); // db -> wol: the committed rule
        Assert.True(udp[("ct102", "ct200")]);                             // wol -> db: allow
        Assert.True(udp[("ct100", "ct102")]);                             // wiki -> wol: allow
        Assert.Equal(udp[("ct200", "ct100")], udp[("ct200", "ct103")]);   // ct103 as ct100 (wiki)

        // The plugs wrote what the full apply wants: it changes nothing (and writes the index again).
        var full = lab.Microseg("apply");
        Assert.Contains("maps: verdicts +0 -0, nic_group +0 -0; links +0 ~0 -0", full);
        Assert.True(File.Exists(index));
    }

    // A full apply that would change nothing is known from the index without reading the
    // snapshot; anything that makes it change something (a map entry gone, a new guest NIC, a
    // new snapshot) takes the full path, and a link gone is re-created either way.
    [KernelTheory]
    [InlineData("tcx")]
    [InlineData("tc")]
    public void A_full_apply_that_changes_nothing_skips_the_snapshot_and_anything_else_does_not(string attach)
    {
        const string NoChange = "maps: verdicts +0 -0, nic_group +0 -0; links +0 ~0 -0";
        using var lab = new LabGuard(Policy, [("ct100", 100, 0), ("ct101", 101, 0), ("ct200", 200, 1)], attach: attach);
        var root = Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy");

        var quiet = Apply(lab);
        Assert.Contains(NoChange, quiet.Stdout);
        Assert.DoesNotContain("apply reads the snapshot", quiet.Stderr);
        Assert.Contains("enforced 3 NICs: veth100i0 (wiki), veth101i0 (wol), veth200i1 (db)", quiet.Stdout);
        Assert.Contains("carrier: no SRv6 carrier interface on this node", quiet.Stdout);

        // A verdict word deleted behind our back: the digest differs, the full path writes it again.
        using (var verdicts = BpfHashMap<VerdictKey, VerdictValue>.OpenPinned(Path.Combine(root, PolicyAbi.VerdictsMap)))
            Assert.True(verdicts.Delete(verdicts.Entries()[0].Key));
        var repaired = Apply(lab);
        Assert.Contains("apply reads the snapshot: the maps hold other entries than the last full apply left", repaired.Stderr);
        Assert.Contains("maps: verdicts +1 -0, nic_group +0 -0; links +0 ~0 -0", repaired.Stdout);
        Assert.DoesNotContain("apply reads the snapshot", Apply(lab).Stderr);

        // A guest NIC that appeared without a plug: not one the last full apply enforced.
        var late = new LabGuest("ct103", "node1", 103, 0, "10.78.0.98/16");
        var grown = new Microseg.Lab.Lab(lab.Lab.Spec with { Guests = [.. lab.Lab.Spec.Guests, late] }, lab.Lab.MicrosegBinary) { AgentEnvironment = lab.Lab.AgentEnvironment };
        grown.CreateGuest(late);
        var added = Apply(lab);
        Assert.Contains("apply reads the snapshot: the host's guest NICs are not those of the last full apply", added.Stderr);
        Assert.Contains("nic_group +1 -0; links +2 ~0 -0", added.Stdout);
        Assert.Contains(NoChange, Apply(lab).Stdout);

        if (attach == "tcx")
        {
            // A link whose pin is removed is gone (the pin held it): re-created without the snapshot.
            File.Delete(Directory.GetFiles(Path.Combine(root, "links"), "*-ingress")[0]);
            var relinked = Apply(lab);
            Assert.DoesNotContain("apply reads the snapshot", relinked.Stderr);
            Assert.Contains("maps: verdicts +0 -0, nic_group +0 -0; links +1 ~0 -0", relinked.Stdout);
        }

        // A new snapshot: another stamp, the full path.
        lab.Lab.Commit(Policy.Replace("rule: p20-12\n\tsrc db\n\tdst wol\n\taction deny\n", "rule: p20-12\n\tsrc db\n\tdst wol\n\taction allow\n"));
        var committed = Apply(lab);
        Assert.Contains("apply reads the snapshot: plug index is of another snapshot, build or node", committed.Stderr);
        Assert.DoesNotContain("verdicts +0 -0", committed.Stdout);

        // What is enforced after all that is what the policy says, on real packets.
        var report = LabCheck.Run(grown);
        Assert.True(report.AllMatch, LabCheck.Render(grown, report));
        Assert.True(report.Udp.Single(p => p.Src.Name == "ct200" && p.Dst.Name == "ct101").Observed); // db -> wol: allowed now
    }

    private static ShellResult Apply(LabGuard lab)
    {
        var r = lab.MicrosegResult("apply", "-v");
        Assert.True(r.ExitCode == 0, $"apply: exit {r.ExitCode}: {r.Stderr}");
        return r;
    }

    [KernelFact]
    public void Clear_removes_the_index_with_the_run_state()
    {
        using var lab = new LabGuard(Policy, [("ct100", 100, 0)]);
        var run = Path.Combine(lab.Lab.RunDirectory(lab.Host), "policy");
        Assert.True(File.Exists(Path.Combine(run, "plug-index")));
        lab.Microseg("clear");
        Assert.False(Directory.Exists(run), $"{run} is left after clear");
    }
}
