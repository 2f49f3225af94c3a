// One test's host: a temporary bpffs mount, run and config directories, /etc/default/microseg
// pointing the package's scripts at them, and guest NICs in the root namespace (where dpkg runs
// the maintainer scripts) with vmids 9xxxxxxx that nothing else uses. Dispose purges the
// package and removes every NIC, pin, mount, file and directory, even after a failure.
using System.Text.Json;
using Microseg.TestSupport;

namespace Microseg.Packaging.Tests;

public sealed class HostRig : IDisposable
{
    public const string DefaultsFile = "/etc/default/microseg";
    private readonly TempDirectory dir = new("microseg-pkg-test-");
    private readonly List<string> interfaces = [];
    private readonly string? savedDefaults;
    private bool mounted;

    public HostRig()
    {
        PurgePackage(); // a run that died earlier must not leave its install behind
        savedDefaults = File.Exists(DefaultsFile) ? File.ReadAllText(DefaultsFile) : null;
        Vmid = 90_000_000 + Random.Shared.Next(10_000_000);
        Directory.CreateDirectory(BpffsMount);
        Directory.CreateDirectory(ConfigDir);
        Sh.Ok("mount", "-t", "bpf", "bpf", BpffsMount);
        mounted = true;
        WriteDefaults(Bpffs);
    }

    public long Vmid { get; }
    public string BpffsMount => dir.File("bpffs");
    public string Bpffs => Path.Combine(BpffsMount, "microseg");
    public string RunDir => dir.File("run");
    public string ConfigDir => dir.File("etc");
    public string Node => "pkgtest";
    public string TempFile(string name) => dir.File(name);

    public string Veth(int iface) => $"veth{Vmid}i{iface}";
    public string Tap(int iface) => $"tap{Vmid}i{iface}";

    /// <summary>The environment file the units, maintainer scripts and hooks read.</summary>
    public void WriteDefaults(string bpffs) => File.WriteAllText(DefaultsFile,
        $"# written by Microseg.Packaging.Tests\nMICROSEG_BPFFS={bpffs}\nMICROSEG_RUN_DIR={RunDir}\nMICROSEG_NODE={Node}\nMICROSEG_CONFIG_DIR={ConfigDir}\n");

    public IReadOnlyDictionary<string, string?> Env => new Dictionary<string, string?>
    {
        ["MICROSEG_BPFFS"] = Bpffs, ["MICROSEG_RUN_DIR"] = RunDir, ["MICROSEG_NODE"] = Node, ["MICROSEG_CONFIG_DIR"] = ConfigDir,
    };

    /// <summary>Writes microseg.cfg (web 10, db 20, db may reach web; the given NICs assigned)
    /// and commits it with the tree's build.</summary>
    public void Commit(params (int Iface, string Group)[] assignments)
    {
        var cfg = "group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n\nrule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n";
        foreach (var (iface, group) in assignments)
            cfg += $"\nassignment: vm{Vmid}i{iface}\n\tvmid {Vmid}\n\tiface {iface}\n\tgroup {group}\n";
        File.WriteAllText(Path.Combine(ConfigDir, "microseg.cfg"), cfg);
        var r = Sh.Run(RepoPaths.MicrosegBinary, ["commit"], Env);
        Assert.True(r.Exit == 0, r.ToString());
    }

    /// <summary>A veth pair in the root namespace: the guest NIC name and a peer, both up.</summary>
    public void AddVeth(int iface)
    {
        var peer = $"msp{Vmid % 10_000_000:x}{iface}";
        Sh.Ok("ip", "link", "add", Veth(iface), "type", "veth", "peer", "name", peer);
        interfaces.Add(Veth(iface));
        Sh.Ok("ip", "link", "set", Veth(iface), "up");
        Sh.Ok("ip", "link", "set", peer, "up");
    }

    /// <summary>A tap as QEMU creates it: present and down until its script brings it up.</summary>
    public void AddTap(int iface)
    {
        Sh.Ok("ip", "tuntap", "add", "dev", Tap(iface), "mode", "tap");
        interfaces.Add(Tap(iface));
    }

    public static bool IsUp(string name)
    {
        using var doc = JsonDocument.Parse(Sh.Ok("ip", "-j", "link", "show", "dev", name));
        return doc.RootElement[0].GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "UP");
    }

    /// <summary>Every pinned policy link: pin name → (link id, program id), read by bpftool.</summary>
    public Dictionary<string, (long Link, long Program)> PinnedLinks()
    {
        var links = new Dictionary<string, (long, long)>();
        var pins = Path.Combine(Bpffs, "policy", "links");
        if (!Directory.Exists(pins)) return links;
        foreach (var pin in Directory.GetFiles(pins))
        {
            using var doc = JsonDocument.Parse(Sh.Ok("bpftool", "-j", "link", "show", "pinned", pin));
            links[Path.GetFileName(pin)] = (doc.RootElement.GetProperty("id").GetInt64(), doc.RootElement.GetProperty("prog_id").GetInt64());
        }
        return links;
    }

    public static bool LinkExists(long id) => Sh.Run("bpftool", "link", "show", "id", id.ToString()).Exit == 0;

    /// <summary>`microseg status --json` of the installed package for this host.</summary>
    public JsonElement Status()
    {
        var r = Sh.Run("/usr/sbin/microseg", ["status", "--json"], Env);
        Assert.True(r.Exit == 0, r.ToString());
        return JsonDocument.Parse(r.Out).RootElement.Clone();
    }

    public ShResult Dpkg(params string[] args) => Sh.Run("dpkg", args, new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive" });

    /// <summary>Installs (or upgrades to) a package; the pre-written /etc/default/microseg is kept.</summary>
    public ShResult Install(string deb)
    {
        var r = Dpkg("--force-confold", "--force-confdef", "-i", deb);
        Assert.True(r.Exit == 0, r.ToString());
        return r;
    }

    public static bool Installed() =>
        Sh.Run("dpkg-query", "-W", "-f=${Status}", "microseg").Out.Contains("install ok installed");

    private static void PurgePackage()
    {
        if (Sh.Run("dpkg-query", "-W", "microseg").Exit == 0)
            Sh.Run("dpkg", "--purge", "microseg");
    }

    public void Dispose()
    {
        PurgePackage();
        foreach (var name in interfaces) Sh.Run("ip", "link", "del", name);
        if (savedDefaults is not null) File.WriteAllText(DefaultsFile, savedDefaults);
        else File.Delete(DefaultsFile);
        if (mounted) Sh.Run("umount", BpffsMount);
        Sh.Run("rm", "-rf", RunDir);
        dir.Dispose();
    }
}
