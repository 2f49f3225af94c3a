// Builds, drives and removes a lab: one network namespace per host (bridge, host-side guest
// NICs, its own bpffs mount outside /sys, its own run dir) and one per guest.
using Microseg.Policy;

namespace Microseg.Lab;

public sealed class Lab
{
    /// <summary>Everything of every lab lives below this directory.</summary>
    public const string RunRoot = "/run/microseg-lab";

    public Lab(LabSpec spec, string microsegBinary)
    {
        Spec = spec;
        MicrosegBinary = microsegBinary;
    }

    public LabSpec Spec { get; }
    public string MicrosegBinary { get; }

    public string Directory => Path.Combine(RunRoot, Spec.Name);
    public string ConfigDirectory => Path.Combine(Directory, "config");
    public string Namespace(string member) => $"msl-{Spec.Name}-{member}";
    public string BpffsMount(LabHost host) => Path.Combine(Directory, host.Name, "bpffs");
    public string BpffsRoot(LabHost host) => Path.Combine(BpffsMount(host), "microseg");
    public string RunDirectory(LabHost host) => Path.Combine(Directory, host.Name, "run");
    public static string SpecPath(string name) => Path.Combine(RunRoot, name, "lab.json");

    /// <summary>A lab that `Up` made earlier, found by name.</summary>
    public static Lab Existing(string name, string microsegBinary) =>
        File.Exists(SpecPath(name))
            ? new Lab(LabSpec.Load(SpecPath(name)), microsegBinary)
            : throw new LabException($"no lab '{name}' is up (no {SpecPath(name)}); run 'microseg lab up' first");

    public LabHost Host(string name) => Spec.Hosts.First(h => h.Name == name);

    /// <summary>Creates every namespace and link, commits the policy and applies it on every
    /// host. On failure everything made so far is removed.</summary>
    public void Up(TextWriter log)
    {
        Down(Spec.Name);
        try
        {
            System.IO.Directory.CreateDirectory(ConfigDirectory);
            Spec.Save(SpecPath(Spec.Name));
            foreach (var host in Spec.Hosts) CreateHost(host);
            foreach (var guest in Spec.Guests) CreateGuest(guest);
            SetNeighbours();
            File.WriteAllText(Path.Combine(ConfigDirectory, ConfigStore.PendingFileName), Spec.PolicyText);
            var commit = new ConfigStore(ConfigDirectory).Commit();
            log.WriteLine($"lab {Spec.Name}: {Spec.Hosts.Count} host(s), {Spec.Guests.Count} guests; committed policy version {commit.Snapshot.Version}");
            foreach (var host in Spec.Hosts)
            {
                var output = Microseg(host, "apply");
                log.WriteLine($"[{host.Name}] microseg apply");
                foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries)) log.WriteLine($"  {line}");
            }
        }
        catch
        {
            Down(Spec.Name);
            throw;
        }
    }

    /// <summary>Runs `microseg ARGS` inside the host's namespace with the host's state paths.</summary>
    public string Microseg(LabHost host, params string[] args)
    {
        var r = MicrosegResult(host, args);
        if (r.ExitCode != 0) throw new LabException($"[{host.Name}] microseg {string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr.Trim()}");
        return r.Stdout;
    }

    public ShellResult MicrosegResult(LabHost host, params string[] args) => MicrosegResult(host, null, args);

    /// <summary>`microseg ARGS` in the host's namespace, with extra environment variables.</summary>
    public ShellResult MicrosegResult(LabHost host, IReadOnlyDictionary<string, string>? env, params string[] args) =>
        Shell.RunWith(env, "ip", ["netns", "exec", Namespace(host.Name), MicrosegBinary, .. args, .. StateArgs(host)]);

    public string[] StateArgs(LabHost host) =>
        ["--config-dir", ConfigDirectory, "--bpffs", BpffsRoot(host), "--run-dir", RunDirectory(host), "--node", host.Name];

    /// <summary>Replaces the committed policy (and commits it), without applying.</summary>
    public Snapshot Commit(string policyText)
    {
        File.WriteAllText(Path.Combine(ConfigDirectory, ConfigStore.PendingFileName), policyText);
        return new ConfigStore(ConfigDirectory).Commit().Snapshot;
    }

    public PolicyConfig Committed() =>
        new ConfigStore(ConfigDirectory).ReadRunning()?.Config ?? throw new LabException($"lab {Spec.Name} has no committed policy");

    private void CreateHost(LabHost host)
    {
        var ns = Namespace(host.Name);
        Shell.Ip("netns", "add", ns);
        Shell.Ip("-n", ns, "link", "set", "lo", "up");
        Shell.Ip("-n", ns, "link", "add", host.Bridge, "type", "bridge");
        Shell.Ip("-n", ns, "link", "set", host.Bridge, "up");
        // The host's own bpffs, outside /sys (ip netns exec remounts /sys).
        System.IO.Directory.CreateDirectory(BpffsMount(host));
        Shell.Check("mount", "-t", "bpf", "bpffs", BpffsMount(host));
    }

    public void CreateGuest(LabGuest guest)
    {
        var host = Host(guest.Host);
        var hostNs = Namespace(host.Name);
        var ns = Namespace(guest.Name);
        Shell.Ip("netns", "add", ns);
        Shell.Ip("-n", ns, "link", "set", "lo", "up");
        Shell.Ip("link", "add", guest.HostNic, "netns", hostNs, "type", "veth", "peer", "name", guest.GuestNic, "netns", ns);
        Shell.Ip("-n", ns, "link", "set", guest.GuestNic, "address", guest.Mac);
        Shell.Ip("-n", ns, "addr", "add", guest.Address, "dev", guest.GuestNic);
        Shell.Ip("-n", ns, "link", "set", guest.GuestNic, "up");
        Shell.Ip("-n", hostNs, "link", "set", guest.HostNic, "master", host.Bridge, "up");
    }

    /// <summary>Permanent neighbour entries: ARP is not policy's business here (ARP is
    /// enforced like any frame until the "ARP always allowed" feature), and one-way probes
    /// must not depend on a reply.</summary>
    public void SetNeighbours()
    {
        foreach (var g in Spec.Guests)
            foreach (var other in Spec.Guests.Where(o => o != g))
                Shell.Ip("-n", Namespace(g.Name), "neigh", "replace", other.Ip.ToString(), "lladdr", other.Mac, "dev", g.GuestNic, "nud", "permanent");
    }

    /// <summary>Removes everything a lab of this name made: agent state, namespaces, bpffs
    /// mounts, directories. Safe to run on a half-built or absent lab.</summary>
    public static void Down(string name)
    {
        var prefix = $"msl-{name}-";
        var dir = Path.Combine(RunRoot, name);
        if (System.IO.Directory.Exists("/run/netns"))
            foreach (var ns in System.IO.Directory.GetFiles("/run/netns").Select(Path.GetFileName).Where(n => n!.StartsWith(prefix, StringComparison.Ordinal)))
                Shell.Run("ip", "netns", "del", ns!);
        if (!System.IO.Directory.Exists(dir)) return;
        foreach (var hostDir in System.IO.Directory.GetDirectories(dir))
        {
            var mount = Path.Combine(hostDir, "bpffs");
            if (System.IO.Directory.Exists(mount)) Shell.Run("umount", mount);
        }
        System.IO.Directory.Delete(dir, recursive: true);
    }
}
