// The built package installed for real with dpkg on this machine, its maintainer scripts
// pointed by /etc/default/microseg at a temporary bpffs, run and config directory: install
// applies the committed policy, the files land where they belong, the units verify offline,
// man renders the page, an upgrade to other programs keeps every link, removal clears.
using System.Text.Json;
using Microseg.TestSupport;

namespace Microseg.Packaging.Tests;

public class PackageTests
{
    private static JsonElement Nic(JsonElement status, string name) =>
        status.GetProperty("policy").GetProperty("nics").EnumerateArray().Single(n => n.GetProperty("interface").GetString() == name);

    private static void AssertEnforced(HostRig rig, string name, string group)
    {
        var nic = Nic(rig.Status(), name);
        Assert.Equal(group, nic.GetProperty("group").GetString());
        Assert.True(nic.GetProperty("ingress").GetBoolean() && nic.GetProperty("egress").GetBoolean(), $"{name}: {nic}");
    }

    [KernelFact]
    public void Install_applies_the_committed_policy_and_remove_clears_every_link_and_pin()
    {
        using var rig = new HostRig();
        rig.AddVeth(0);
        rig.Commit((0, "web"));

        var install = rig.Install(Packages.Normal);
        Assert.Contains($"enforced 1 NIC: {rig.Veth(0)} (web)", install.Out);
        AssertEnforced(rig, rig.Veth(0), "web");
        var links = rig.PinnedLinks();
        Assert.Equal(2, links.Count);

        // Layout.
        // One native executable (Native AOT), no .NET runtime beside it.
        Assert.Null(new FileInfo("/usr/sbin/microseg").LinkTarget);
        Assert.Equal(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }, File.ReadAllBytes("/usr/sbin/microseg")[..4]);
        Assert.False(Directory.Exists("/usr/lib/microseg"), "nothing but the executable is installed for the program");
        Assert.Contains("apply", Sh.Ok("/usr/sbin/microseg", "--help"));
        foreach (var f in new[] { "/lib/systemd/system/microseg-apply.service", "/lib/systemd/system/microseg-agent.service",
                     "/usr/share/man/man8/microseg.8.gz", "/usr/share/bash-completion/completions/microseg",
                     "/etc/microseg/microseg.cfg.example", "/usr/share/doc/microseg/copyright" })
            Assert.True(File.Exists(f), $"{f} is not installed");
        foreach (var hook in new[] { "qemu-ifup", "lxc-net-up" })
            Assert.True(File.GetUnixFileMode($"/usr/share/microseg/hooks/{hook}").HasFlag(UnixFileMode.UserExecute), $"{hook} is not executable");
        Assert.False(File.Exists("/etc/microseg/running-config.json"), "the example config must not be committed");
        Assert.Contains("written by Microseg.Packaging.Tests", File.ReadAllText(HostRig.DefaultsFile));
        Assert.True(File.Exists("/etc/systemd/system/multi-user.target.wants/microseg-apply.service"), "microseg-apply is enabled");
        Assert.True(File.Exists("/etc/systemd/system/multi-user.target.wants/microseg-agent.service"), "microseg-agent is enabled");

        // The installed units, verified offline (no systemd runs here), and the installed page.
        var verify = Sh.Run("systemd-analyze", "verify", "/lib/systemd/system/microseg-apply.service", "/lib/systemd/system/microseg-agent.service");
        Assert.True(verify.Exit == 0 && verify.Err.Trim().Length == 0, verify.ToString());
        var man = Sh.Run("man", ["--warnings", "8", "microseg"], new Dictionary<string, string?> { ["MANWIDTH"] = "80", ["MANPAGER"] = "cat" });
        Assert.True(man.Exit == 0 && man.Err.Length == 0, man.ToString());
        Assert.Contains("microseg apply [IFACE] [options]", man.Out);
        Assert.Contains($"microseg {Packages.NormalVersion}", man.Out);

        var remove = rig.Dpkg("-r", "microseg");
        Assert.True(remove.Exit == 0, remove.ToString());
        Assert.Contains("cleared: 2 links detached", remove.Out);
        Assert.Empty(rig.PinnedLinks());
        Assert.False(Directory.Exists(rig.Bpffs) && Directory.EnumerateFileSystemEntries(rig.Bpffs, "*", SearchOption.AllDirectories).Any(),
            "no pin is left under the bpffs root");
        foreach (var (pin, (link, _)) in links) Assert.False(HostRig.LinkExists(link), $"link {link} ({pin}) still exists");
        Assert.True(File.Exists(Path.Combine(rig.ConfigDir, "running-config.json")), "remove keeps the configuration");
        Assert.True(File.Exists("/etc/microseg/microseg.cfg.example"), "remove keeps the conffiles");

        var purge = rig.Dpkg("--purge", "microseg");
        Assert.True(purge.Exit == 0, purge.ToString());
        Assert.False(Directory.Exists("/etc/microseg"), "purge removes /etc/microseg");
        Assert.False(File.Exists(HostRig.DefaultsFile), "purge removes the conffile /etc/default/microseg");
        Assert.False(File.Exists("/etc/systemd/system/multi-user.target.wants/microseg-apply.service"));
    }

    [KernelFact]
    public void Upgrading_to_a_build_with_other_programs_switches_them_under_the_same_links()
    {
        using var rig = new HostRig();
        rig.AddVeth(0);
        rig.AddVeth(1);
        rig.Commit((0, "web"), (1, "db"));
        rig.Install(Packages.Normal);
        var before = rig.PinnedLinks();
        var fingerprint = rig.Status().GetProperty("policy").GetProperty("fingerprint").GetString();
        Assert.Equal(4, before.Count);

        var upgrade = rig.Install(Packages.Variant);
        // Programs switched (BPF_LINK_UPDATE), no link created or removed.
        Assert.True(upgrade.Out.Contains("programs upgraded") && System.Text.RegularExpressions.Regex.IsMatch(upgrade.Out, @"links \+0 ~\d+ -0"), upgrade.ToString());
        Assert.DoesNotContain("cleared", upgrade.Out);
        var after = rig.PinnedLinks();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (pin, (link, program)) in before)
        {
            Assert.Equal(link, after[pin].Link);
            Assert.NotEqual(program, after[pin].Program);
        }
        var policy = rig.Status().GetProperty("policy");
        Assert.NotEqual(fingerprint, policy.GetProperty("fingerprint").GetString());
        Assert.Equal(policy.GetProperty("build_fingerprint").GetString(), policy.GetProperty("fingerprint").GetString());
        AssertEnforced(rig, rig.Veth(0), "web");
        AssertEnforced(rig, rig.Veth(1), "db");
        Assert.Contains(Packages.VariantVersion, Sh.Ok("dpkg-query", "-W", "-f=${Version}", "microseg"));
    }

    [KernelFact]
    public void The_qemu_and_lxc_hooks_enforce_the_nic_or_refuse_it()
    {
        using var rig = new HostRig();
        var install = rig.Install(Packages.Normal);
        Assert.Contains("nothing committed yet", install.Out);
        // vm...i2 is assigned but never gets an interface. Each NIC appears just before its hook
        // runs, as it does on a host (the first hook loads the programs with a full pass).
        rig.Commit((0, "web"), (1, "db"), (2, "db"), (3, "web"), (4, "web"));
        const string qemu = "/usr/share/microseg/hooks/qemu-ifup", lxc = "/usr/share/microseg/hooks/lxc-net-up";

        // QEMU: script=PATH gets the tap's name; the tap is down until the script brings it up.
        rig.AddTap(0);
        Assert.False(HostRig.IsUp(rig.Tap(0)));
        var up = Sh.Run(qemu, rig.Tap(0));
        Assert.True(up.Exit == 0, up.ToString());
        Assert.True(HostRig.IsUp(rig.Tap(0)), "the hook brings the enforced tap up");
        AssertEnforced(rig, rig.Tap(0), "web");
        Assert.Equal(2, rig.PinnedLinks().Count);

        // LXC, lxc.hook.version 0: NAME net up veth [LINK] PEER (an empty link vanishes in LXC's shell line).
        rig.AddVeth(1);
        var v0 = Sh.Run(lxc, rig.Vmid.ToString(), "net", "up", "veth", rig.Veth(1));
        Assert.True(v0.Exit == 0, v0.ToString());
        AssertEnforced(rig, rig.Veth(1), "db");
        Assert.Equal(4, rig.PinnedLinks().Count);

        // LXC, lxc.hook.version 1: the namespaces as arguments, the rest in the environment.
        var v1Env = (string peer) => new Dictionary<string, string?>
        {
            ["LXC_NAME"] = rig.Vmid.ToString(), ["LXC_HOOK_VERSION"] = "1", ["LXC_HOOK_SECTION"] = "net", ["LXC_HOOK_TYPE"] = "up",
            ["LXC_NET_TYPE"] = "veth", ["LXC_NET_PARENT"] = "vmbr0", ["LXC_NET_PEER"] = peer,
        };
        rig.AddVeth(3);
        var v1 = Sh.Run(lxc, ["net:/proc/self/ns/net"], v1Env(rig.Veth(3)));
        Assert.True(v1.Exit == 0, v1.ToString());
        AssertEnforced(rig, rig.Veth(3), "web");
        Assert.Equal(6, rig.PinnedLinks().Count);

        // An assigned NIC that is not there: refused.
        var missing = Sh.Run(lxc, ["net:/proc/self/ns/net"], v1Env(rig.Veth(2)));
        Assert.True(missing.Exit != 0, missing.ToString());
        Assert.Contains("refusing", missing.Out);

        // bpffs unusable (the pin root lies below a regular file): the tap stays down, no link.
        var notADirectory = rig.TempFile("not-a-directory");
        File.WriteAllText(notADirectory, "");
        rig.WriteDefaults(Path.Combine(notADirectory, "microseg"));
        rig.AddTap(4);
        var refused = Sh.Run(qemu, rig.Tap(4));
        rig.WriteDefaults(rig.Bpffs);
        Assert.True(refused.Exit != 0, refused.ToString());
        Assert.Contains("not bringing it up", refused.Err);
        Assert.False(HostRig.IsUp(rig.Tap(4)), "a tap that could not be enforced stays down");
        Assert.DoesNotContain(rig.Status().GetProperty("policy").GetProperty("nics").EnumerateArray(),
            n => n.GetProperty("interface").GetString() == rig.Tap(4));
        Assert.Equal(6, rig.PinnedLinks().Count);
    }
}
