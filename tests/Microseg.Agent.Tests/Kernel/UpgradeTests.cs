// Program upgrades and map-schema migrations under live traffic, in both attach modes: every
// tcx link switches atomically (BPF_LINK_UPDATE), every tc filter is replaced in place, so a continuous stream loses nothing policy allows and
// receives nothing it denies.
using System.Text.Json;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class UpgradeTests
{
    private static readonly string Example = File.ReadAllText(Path.Combine(RepoPaths.Root, "examples", "microseg.cfg"));
    private static readonly (string, long, long)[] Guests = [("ct100", 100, 0), ("ct101", 101, 0), ("ct200", 200, 1)];

    private static Dictionary<string, string> Variant(int? schema = null)
    {
        var env = new Dictionary<string, string> { ["MICROSEG_TEST_POLICY_OBJECT"] = RepoPaths.BpfObject("policy.variant.bpf.o") };
        if (schema is { } s) env["MICROSEG_TEST_POLICY_SCHEMA"] = s.ToString();
        return env;
    }

    private static (uint Ingress, uint Egress, string Fingerprint, int Schema) Programs(LabGuard lab, Dictionary<string, string>? env = null)
    {
        var r = lab.Lab.MicrosegResult(lab.Host, env, "status", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var p = doc.RootElement.GetProperty("policy");
        return (p.GetProperty("ingress_program_id").GetUInt32(), p.GetProperty("egress_program_id").GetUInt32(),
            p.GetProperty("fingerprint").GetString()!, p.GetProperty("schema").GetInt32());
    }

    [KernelTheory]
    [InlineData(false, "tcx")]
    [InlineData(true, "tcx")]
    [InlineData(false, "tc")]
    [InlineData(true, "tc")]
    public void Upgrade_switches_links_without_losing_allowed_or_passing_denied_packets(bool schemaChange, string attach)
    {
        Assert.True(File.Exists(RepoPaths.BpfObject("policy.variant.bpf.o")), "run 'make build' first");
        using var lab = new LabGuard(Example, Guests, attach: attach);
        var before = Programs(lab);
        var env = Variant(schemaChange ? PolicyAbi.SchemaVersion + 1 : null);

        using var allowed = new UdpStream(lab.Lab, lab.Guest("ct200"), lab.Guest("ct100"), 7201); // db -> wiki: allow
        using var denied = new UdpStream(lab.Lab, lab.Guest("ct200"), lab.Guest("ct101"), 7202);  // db -> wol: deny
        UdpStream.WaitForTraffic([allowed, denied], [allowed], more: 2_000);
        var r = lab.Lab.MicrosegResult(lab.Host, env, "apply", "-v");
        // Traffic through the new programs, and enough of it in all.
        UdpStream.WaitForTraffic([allowed, denied], [allowed], more: 2_000, atLeast: 5_000);
        var (aSent, aReceived) = allowed.Stop();
        var (dSent, dReceived) = denied.Stop();

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains(schemaChange ? "programs migrated" : "programs upgraded", r.Stdout);
        var after = Programs(lab, env);
        Assert.NotEqual(before.Fingerprint, after.Fingerprint);
        Assert.NotEqual(before.Ingress, after.Ingress);
        Assert.NotEqual(before.Egress, after.Egress);
        Assert.Equal(schemaChange ? PolicyAbi.SchemaVersion + 1 : PolicyAbi.SchemaVersion, after.Schema);
        Assert.Contains(schemaChange
            ? $"policy maps migrated from schema {PolicyAbi.SchemaVersion} to {PolicyAbi.SchemaVersion + 1}"
            : $"policy programs upgraded {before.Fingerprint[..12]} -> {after.Fingerprint[..12]}", r.Stderr);
        Assert.True(aSent > 5_000, $"the stream ran ({aSent} sent)");
        Assert.Equal(aSent, aReceived);
        Assert.True(dSent > 5_000, $"the stream ran ({dSent} sent)");
        Assert.Equal(0, dReceived);

        // The old programs and (after a migration) the old maps are gone; a re-apply reuses.
        var again = lab.Lab.MicrosegResult(lab.Host, env, "apply");
        Assert.Contains("programs reused", again.Stdout);
        Assert.Contains("links +0 ~0 -0", again.Stdout);
        Assert.False(Directory.Exists(Path.Combine(lab.Lab.BpffsRoot(lab.Host), "policy", "next")));
    }

    [KernelFact]
    public void A_fingerprint_file_shorter_than_its_short_form_is_shown_as_it_is()
    {
        using var lab = new LabGuard(Example, Guests);
        File.WriteAllText(Path.Combine(lab.Lab.RunDirectory(lab.Host), "policy", "fingerprint"), "abc\n");
        var status = lab.Microseg("status");
        Assert.Contains($"policy:    loaded, fingerprint abc, schema {PolicyAbi.SchemaVersion},", status);
        Assert.Contains("warning: loaded programs (abc) are not this build's", status);
        using var json = JsonDocument.Parse(lab.Microseg("status", "--json"));
        Assert.Equal("abc", json.RootElement.GetProperty("policy").GetProperty("fingerprint").GetString());
        Assert.Contains("programs upgraded", lab.Microseg("apply"));
    }

    [KernelFact]
    public void A_program_the_verifier_rejects_leaves_the_running_state_untouched()
    {
        using var lab = new LabGuard(Example, Guests);
        var before = Programs(lab);
        var bogus = Path.Combine(Path.GetTempPath(), $"bogus-{Guid.NewGuid():N}.o");
        File.WriteAllBytes(bogus, File.ReadAllBytes(RepoPaths.BpfObject("policy.bpf.o"))[..512]);
        try
        {
            var env = new Dictionary<string, string> { ["MICROSEG_TEST_POLICY_OBJECT"] = bogus, ["MICROSEG_TEST_POLICY_SCHEMA"] = (PolicyAbi.SchemaVersion + 1).ToString() };
            var r = lab.Lab.MicrosegResult(lab.Host, env, "apply");
            Assert.Equal(1, r.ExitCode);
            Assert.Equal(before, Programs(lab));
            Assert.False(lab.Udp()[("ct200", "ct101")]);
            Assert.True(lab.Udp()[("ct200", "ct100")]);
        }
        finally { File.Delete(bogus); }
    }
}
