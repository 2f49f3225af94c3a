// Builds, drives and removes a lab: one network namespace per host (bridge, host-side guest
// NICs, its own bpffs mount outside /sys, its own run dir) and one per guest. Several hosts are
// joined by an underlay switch (a namespace with a bridge; each host's und0 is a port of it)
// and the lab's carrier:
//   vxlan-gbp/vxlan: vx0 (VNI 4242) on each host's bridge, flooding to the other hosts: one L2
//     segment, so guests reach each other directly.
//   srv6: each host routes its guests' subnet (its bridge address is their gateway); IPv4 to
//     another host's subnet is encapsulated (seg6 encap, one segment: that host's End.DX4 SID)
//     and decapsulated there. The mark travels because the carrier programs on und0 write it
//     into the SRH tag after the encapsulation (egress) and read it back before the
//     decapsulation (ingress); the kernel clears it when the packet crosses into the other
//     host's namespace.
using System.Globalization;
using System.Net;
using Microseg.Netlink;
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

    /// <summary>Variables every `microseg` run of this lab gets (e.g. MICROSEG_ATTACH=tc, to run
    /// a lab's agents in another attach mode).</summary>
    public IReadOnlyDictionary<string, string> AgentEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>false: IPv6 is off in every namespace of the lab from its creation, before any
    /// interface exists, so that nothing but what a test sends is on the wire (a guest's link
    /// coming up otherwise sends MLD reports and router solicitations on its own, for seconds).</summary>
    public bool Ipv6 { get; init; } = true;

    public string Directory => Path.Combine(RunRoot, Spec.Name);
    public string ConfigDirectory => Path.Combine(Directory, "config");
    public string Namespace(string member) => NamespacePrefix(Spec.Name) + member;
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

    public string UnderlayNamespace => Namespace(LabNetwork.UnderlayMember);

    /// <summary>Creates every namespace and link, commits the policy and applies it on every
    /// host. On failure everything made so far is removed.</summary>
    public void Up(TextWriter log)
    {
        Down(Spec.Name);
        try
        {
            Build(log);
            ApplyAll(log);
        }
        catch
        {
            Down(Spec.Name);
            throw;
        }
    }

    /// <summary>The first half of <see cref="Up"/>: namespaces, links, underlay, carrier, the
    /// committed policy; nothing applied yet. Guests find each other and their gateway with real
    /// ARP and neighbour discovery, which policy lets through (infrastructure traffic). The caller removes the lab on failure.</summary>
    public void Build(TextWriter log)
    {
        System.IO.Directory.CreateDirectory(ConfigDirectory);
        Spec.Save(SpecPath(Spec.Name));
        foreach (var host in Spec.Hosts) CreateHost(host);
        if (Spec.IsMultiHost) CreateUnderlay();
        foreach (var host in Spec.Hosts) CreateCarrier(host);
        foreach (var guest in Spec.Guests) CreateGuest(guest);
        var snapshot = Commit(Spec.PolicyText);
        var carrier = Spec.IsMultiHost ? $", carrier {Spec.Carrier.Name()} over {LabNetwork.UnderlayInterface}" : "";
        log.WriteLine($"lab {Spec.Name}: {Spec.Hosts.Count} host(s), {Spec.Guests.Count} guests{carrier}; committed policy version {snapshot.Version}");
        if (Spec.Carrier == LabCarrier.Srv6)
        {
            var bridges = snapshot.Config.Bridges.Values;
            foreach (var host in Spec.Hosts.Where(h => !bridges.Any(b => b.Name == LabNetwork.UnderlayInterface && b.AppliesTo(h.Name))))
                log.WriteLine($"note: the policy has no 'bridge: {LabNetwork.UnderlayInterface}' for {host.Name}: groups will not cross SRv6 from or to it");
        }
    }

    /// <summary>`microseg apply` on every host (the second half of <see cref="Up"/>).</summary>
    public void ApplyAll(TextWriter log)
    {
        foreach (var host in Spec.Hosts) Agent(host).Show(log, ["apply"]);
    }

    /// <summary>Runs `microseg ARGS` inside the host's namespace with the host's state paths;
    /// throws unless it exits 0.</summary>
    public string Microseg(LabHost host, params string[] args) => Agent(host).Run(args);

    /// <summary>As <see cref="Microseg"/>, and writes "[host] microseg ARGS" and the output, indented, to <paramref name="log"/>.</summary>
    public void Show(LabHost host, TextWriter log, params string[] args) => Agent(host).Show(log, args);

    public ShellResult MicrosegResult(LabHost host, params string[] args) => Agent(host).Result(null, args);

    /// <summary>`microseg ARGS` in the host's namespace, with extra environment variables.</summary>
    public ShellResult MicrosegResult(LabHost host, IReadOnlyDictionary<string, string>? env, params string[] args) => Agent(host).Result(env, args);

    private LabAgent Agent(LabHost host) =>
        new(MicrosegBinary, Namespace(host.Name), ConfigDirectory, BpffsRoot(host), RunDirectory(host), host.Name, AgentEnvironment);

    /// <summary>Replaces the committed policy (and commits it), without applying.</summary>
    public Snapshot Commit(string policyText) => LabAgent.Commit(Store, policyText);

    public PolicyConfig Committed() =>
        Store.ReadRunning()?.Config ?? throw new LabException($"lab {Spec.Name} has no committed policy");

    public IConfigStore Store => LabAgent.Store(ConfigDirectory);

    private void CreateHost(LabHost host)
    {
        var ns = Namespace(host.Name);
        AddNamespace(ns);
        Shell.Ip("-n", ns, "link", "add", host.Bridge, "type", "bridge");
        if (Spec.IsMultiHost)
            Shell.Ip("-n", ns, "link", "set", host.Bridge, "address", LabNetwork.BridgeMac(Spec.HostIndex(host.Name)));
        Shell.Ip("-n", ns, "link", "set", host.Bridge, "up");
        if (Spec.HostAddress(host) is { } address)
            Shell.Ip("-n", ns, "addr", "add", address, "dev", host.Bridge);
        LabNamespaces.MountBpffs(BpffsMount(host));
    }

    /// <summary>The underlay switch: a namespace with one bridge; each host's und0 is a veth
    /// whose far end is a port of it, with a fixed MAC and one IPv4 and one IPv6 address.</summary>
    private void CreateUnderlay()
    {
        var ul = UnderlayNamespace;
        LabNamespaces.Add(ul);
        Shell.Ip("-n", ul, "link", "add", LabNetwork.UnderlayBridge, "type", "bridge", "mcast_snooping", "0");
        Shell.Ip("-n", ul, "link", "set", LabNetwork.UnderlayBridge, "up");
        var mtu = LabNetwork.UnderlayMtu.ToString(CultureInfo.InvariantCulture);
        foreach (var host in Spec.Hosts)
        {
            var i = Spec.HostIndex(host.Name);
            var ns = Namespace(host.Name);
            var port = $"u-{host.Name}";
            var und = LabNetwork.UnderlayInterface;
            Shell.Ip("link", "add", und, "netns", ns, "mtu", mtu, "type", "veth", "peer", "name", port, "netns", ul, "mtu", mtu);
            Shell.Ip("-n", ul, "link", "set", port, "master", LabNetwork.UnderlayBridge, "up");
            Shell.Ip("-n", ns, "link", "set", und, "address", LabNetwork.UnderlayMac(i));
            Shell.Ip("-n", ns, "addr", "add", $"{LabNetwork.UnderlayIpv4(i)}/24", "dev", und);
            Shell.Ip("-n", ns, "addr", "add", $"{LabNetwork.UnderlayIpv6(i)}/64", "dev", und, "nodad");
            Shell.Ip("-n", ns, "link", "set", und, "up");
        }
        // Hosts know each other's underlay addresses from the start: the first probe across
        // must not wait for ARP or neighbour discovery (nor be queued behind it).
        foreach (var host in Spec.Hosts)
            foreach (var other in Spec.Hosts.Where(h => h != host))
            {
                var j = Spec.HostIndex(other.Name);
                foreach (var address in new[] { LabNetwork.UnderlayIpv4(j), LabNetwork.UnderlayIpv6(j) })
                    Shell.Ip("-n", Namespace(host.Name), "neigh", "replace", address.ToString(), "lladdr", LabNetwork.UnderlayMac(j), "dev", LabNetwork.UnderlayInterface, "nud", "permanent");
            }
    }

    private void CreateCarrier(LabHost host)
    {
        var ns = Namespace(host.Name);
        var i = Spec.HostIndex(host.Name);
        var others = Spec.Hosts.Where(h => h != host).Select(h => (Host: h, Index: Spec.HostIndex(h.Name))).ToList();
        var und = LabNetwork.UnderlayInterface;
        switch (Spec.Carrier)
        {
            case LabCarrier.VxlanGbp:
            case LabCarrier.Vxlan:
                var vx = LabNetwork.VxlanDevice;
                string[] gbp = Spec.Carrier == LabCarrier.VxlanGbp ? ["gbp"] : [];
                Shell.Ip(["-n", ns, "link", "add", vx, "type", "vxlan", "id", LabNetwork.VxlanVni.ToString(CultureInfo.InvariantCulture),
                    "dstport", LabNetwork.VxlanPort.ToString(CultureInfo.InvariantCulture), "local", LabNetwork.UnderlayIpv4(i).ToString(), "dev", und, .. gbp]);
                // Head-end replication: unknown and broadcast frames go to every other host.
                foreach (var (_, j) in others)
                    Shell.Check("bridge", "-n", ns, "fdb", "append", "00:00:00:00:00:00", "dev", vx, "dst", LabNetwork.UnderlayIpv4(j).ToString());
                Shell.Ip("-n", ns, "link", "set", vx, "master", host.Bridge, "up");
                break;
            case LabCarrier.Srv6:
                NetworkNamespace.Run(ns, () =>
                {
                    foreach (var (key, value) in new[]
                    {
                        ("net/ipv4/ip_forward", "1"), ("net/ipv6/conf/all/forwarding", "1"),
                        ("net/ipv6/conf/all/seg6_enabled", "1"), ($"net/ipv6/conf/{und}/seg6_enabled", "1"),
                        // End.DX4 looks the inner packet up as if it came in on und0, from a
                        // source that lives behind the other host.
                        ("net/ipv4/conf/all/rp_filter", "0"), ($"net/ipv4/conf/{und}/rp_filter", "0"),
                    })
                        File.WriteAllText(Path.Combine("/proc/sys", key), value);
                });
                Shell.Ip("-n", ns, "sr", "tunsrc", "set", LabNetwork.UnderlayIpv6(i).ToString());
                Shell.Ip("-n", ns, "-6", "route", "add", $"{LabNetwork.Dx4Sid(i)}/128", "encap", "seg6local", "action", "End.DX4", "nh4", "0.0.0.0", "dev", und);
                foreach (var (other, j) in others)
                {
                    Shell.Ip("-n", ns, "-6", "route", "add", LabNetwork.Srv6Locator(j), "via", LabNetwork.UnderlayIpv6(j).ToString(), "dev", und);
                    if (Spec.GuestSubnet(other) is { } subnet)
                        Shell.Ip("-n", ns, "route", "add", subnet.ToString(), "encap", "seg6", "mode", "encap", "segs", LabNetwork.Dx4Sid(j).ToString(), "dev", und);
                }
                break;
        }
    }

    private void AddNamespace(string ns)
    {
        LabNamespaces.Add(ns);
        if (!Ipv6)
            Shell.Check("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    }

    public void CreateGuest(LabGuest guest)
    {
        var host = Host(guest.Host);
        var hostNs = Namespace(host.Name);
        var ns = Namespace(guest.Name);
        AddNamespace(ns);
        Shell.Ip("link", "add", guest.HostNic, "netns", hostNs, "type", "veth", "peer", "name", guest.GuestNic, "netns", ns);
        Shell.Ip("-n", ns, "link", "set", guest.GuestNic, "address", guest.Mac);
        Shell.Ip("-n", ns, "addr", "add", guest.Address, "dev", guest.GuestNic);
        Shell.Ip("-n", ns, "link", "set", guest.GuestNic, "up");
        Shell.Ip("-n", hostNs, "link", "set", guest.HostNic, "master", host.Bridge, "up");
        if (Spec.Carrier == LabCarrier.Srv6 && Spec.HostIp(host) is { } gateway)
            Shell.Ip("-n", ns, "route", "add", "default", "via", gateway.ToString());
    }

    /// <summary>Removes everything a lab of this name made: agent state, namespaces, bpffs
    /// mounts, directories. Safe to run on a half-built or absent lab.</summary>
    public static void Down(string name) => LabNamespaces.RemoveAll(NamespacePrefix(name), Path.Combine(RunRoot, name));

    private static string NamespacePrefix(string name) => $"msl-{name}-";
}
