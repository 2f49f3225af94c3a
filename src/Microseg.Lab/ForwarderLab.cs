// The forwarder's lab (SPEC §7): a "driver" namespace plays the driver VM, with one veth per
// physical NIC (physN) whose far end is an "outside" namespace (outN), and one router veth
// (rtr0) whose far end is the "router" namespace (eth0). The real agent applies the forwarder in
// the driver namespace with its own bpffs (outside /sys) and run dir.
//
// Traffic is raw Ethernet frames (AF_PACKET), so that the router namespace can send and see
// 802.1Q tags in the frame itself, as a router VM's virtio NIC does: the build machines' kernel
// has no VLAN devices, and veth would carry a VLAN device's tag in skb metadata, which XDP does
// not see. IPv6 is off in every lab namespace, so that the only frames are the lab's own.
// In native mode a veth that receives redirected XDP frames needs an XDP program on its peer
// (veth's ndo_xdp_xmit uses the peer's XDP rings): the caller supplies how to attach one.
using System.Text;
using System.Text.Json;
using Microseg.Netlink;
using Microseg.Policy;

namespace Microseg.Lab;

/// <summary>Attaches an XDP_PASS program in native mode to <c>device</c> in network namespace
/// <c>netns</c>, pinning its link at <c>pinPath</c> so it outlives the caller.</summary>
public delegate void NativePeerAttach(string netns, string device, string pinPath);

/// <param name="Index">N of outN and physN.</param>
/// <param name="VlanId">The VLAN id that names physN on the router link: its ifindex in the driver namespace.</param>
public sealed record ForwarderOutside(int Index, string Namespace, string Physical, int VlanId)
{
    public string Mac => $"02:4d:66:00:00:{Index:x2}";
}

public sealed class ForwarderLab
{
    public const string Router = "rtr0";
    public const string ForwarderName = "fwd0";
    private const int MaxOutsides = 50;

    private readonly NativePeerAttach? nativePeer;
    private readonly IReadOnlyList<string>? physical;

    /// <param name="physical">The forwarder's physical list (names or "*"); default phys1..physN.</param>
    public ForwarderLab(string name, string microsegBinary, ForwarderMode mode, int outsides = 2,
        NativePeerAttach? nativePeer = null, IReadOnlyList<string>? physical = null)
    {
        if (!Names.IsGroupName(name) || name.Length > 8) throw new LabException($"forwarder lab name '{name}' must be a short name (a letter, then letters, digits, '-'; up to 8)");
        if (outsides is < 1 or > MaxOutsides) throw new LabException($"a forwarder lab has 1..{MaxOutsides} outside namespaces, not {outsides}");
        if (mode == ForwarderMode.Native && nativePeer is null) throw new LabException("native mode needs a way to attach XDP programs to the veth peers");
        Name = name;
        MicrosegBinary = microsegBinary;
        Mode = mode;
        Outsides = outsides;
        this.nativePeer = nativePeer;
        this.physical = physical;
    }

    public string Name { get; }
    public string MicrosegBinary { get; }
    public ForwarderMode Mode { get; }
    public int Outsides { get; }

    public string Directory => DirectoryOf(Name);
    public string ConfigDirectory => Path.Combine(Directory, "config");
    public string BpffsMount => Path.Combine(Directory, "bpffs");
    public string BpffsRoot => Path.Combine(BpffsMount, "microseg");
    public string RunDirectory => Path.Combine(Directory, "run");
    public string DriverNamespace => Namespace(Name, "drv");
    public string RouterNamespace => Namespace(Name, "rtr");
    public string OutsideNamespace(int index) => Namespace(Name, $"out{index}");

    public string PolicyText => $"forwarder: {ForwarderName}\n\trouter {Router}\n\tphysical {string.Join(',', physical ?? [.. Enumerable.Range(1, Outsides).Select(Physical)])}\n\tmode {Word(Mode)}\n";

    private static string Word(ForwarderMode mode) => SectionConfig.Word(mode);
    private static string Physical(int index) => $"phys{index}";
    private static string DirectoryOf(string name) => Path.Combine(Lab.RunRoot, $"msf-{name}");
    private static string Namespace(string name, string member) => $"msf-{name}-{member}";
    private static string StatePath(string name) => Path.Combine(DirectoryOf(name), "lab.json");

    internal sealed record State(string Mode, int Outsides, List<string>? Physical);

    /// <summary>A lab that `Up` made earlier, found by name.</summary>
    public static ForwarderLab Existing(string name, string microsegBinary, NativePeerAttach? nativePeer = null)
    {
        if (!File.Exists(StatePath(name))) throw new LabException($"no forwarder lab '{name}' is up (no {StatePath(name)}); run 'microseg forwarder lab up' first");
        var state = JsonSerializer.Deserialize(File.ReadAllText(StatePath(name)), ForwarderLabJson.Default.State)!;
        return new ForwarderLab(name, microsegBinary, SectionConfig.TryParseMode(state.Mode, out var mode) ? mode : ForwarderMode.Skb, state.Outsides, nativePeer, state.Physical);
    }

    /// <summary>The outside namespaces present, in order.</summary>
    public IReadOnlyList<ForwarderOutside> OutsidesPresent()
    {
        var present = Enumerable.Range(1, MaxOutsides)
            .Where(i => File.Exists(Path.Combine(NetworkNamespace.NamedNamespacesDirectory, OutsideNamespace(i)))).ToList();
        var ifIndexes = IfIndexes([.. present.Select(Physical)]);
        return [.. present.Select(i => new ForwarderOutside(i, OutsideNamespace(i), Physical(i), ifIndexes[Physical(i)]))];
    }

    /// <summary>Creates the namespaces and links, commits the forwarder and applies it in the
    /// driver namespace. On failure everything made so far is removed.</summary>
    public void Up(TextWriter log)
    {
        Down(Name);
        try
        {
            System.IO.Directory.CreateDirectory(ConfigDirectory);
            File.WriteAllText(StatePath(Name), JsonSerializer.Serialize(new State(Word(Mode), Outsides, physical?.ToList()), ForwarderLabJson.Default.State));
            foreach (var ns in new[] { DriverNamespace, RouterNamespace }) LabNamespaces.Add(ns, ipv6: false);
            LabNamespaces.MountBpffs(BpffsMount);
            Shell.Ip("link", "add", Router, "netns", DriverNamespace, "type", "veth", "peer", "name", "eth0", "netns", RouterNamespace);
            Shell.Ip("-n", DriverNamespace, "link", "set", Router, "up");
            Shell.Ip("-n", RouterNamespace, "link", "set", "eth0", "address", RouterMac);
            Shell.Ip("-n", RouterNamespace, "link", "set", "eth0", "up");
            if (Mode == ForwarderMode.Native) nativePeer!(RouterNamespace, "eth0", PeerPin("rtr"));
            for (int i = 1; i <= Outsides; i++) AddOutside(i);
            Commit(PolicyText);
            log.WriteLine($"forwarder lab {Name}: driver {DriverNamespace}, router {RouterNamespace} ({Router}), {Outsides} outside namespace(s), {Word(Mode)} mode");
            foreach (var o in OutsidesPresent())
                log.WriteLine($"  {o.Namespace} eth0 <-> [driver] {o.Physical} (ifindex {o.VlanId} = VLAN {o.VlanId}) ==> {Router} <-> {RouterNamespace} eth0, VLAN {o.VlanId}");
            Show(log, "apply");
        }
        catch
        {
            Down(Name);
            throw;
        }
    }

    /// <summary>Adds outside namespace N behind a new physical interface physN. Does not apply: a
    /// running forwarder covers it after `apply physN`.</summary>
    public ForwarderOutside AddOutside(int index)
    {
        var ns = OutsideNamespace(index);
        var phys = Physical(index);
        LabNamespaces.Add(ns, ipv6: false);
        Shell.Ip("link", "add", phys, "netns", DriverNamespace, "type", "veth", "peer", "name", "eth0", "netns", ns);
        var outside = new ForwarderOutside(index, ns, phys, IfIndexes([phys])[phys]);
        Shell.Ip("-n", ns, "link", "set", "eth0", "address", outside.Mac);
        Shell.Ip("-n", ns, "link", "set", "eth0", "up");
        Shell.Ip("-n", DriverNamespace, "link", "set", phys, "up");
        if (Mode == ForwarderMode.Native) nativePeer!(ns, "eth0", PeerPin($"out{index}"));
        return outside;
    }

    private string PeerPin(string member)
    {
        var dir = Path.Combine(BpffsMount, "lab");
        System.IO.Directory.CreateDirectory(dir);
        return Path.Combine(dir, $"peer-{member}");
    }

    /// <summary>Replaces the committed config (and commits it), without applying.</summary>
    public Snapshot Commit(string policyText) => LabAgent.Commit(LabAgent.Store(ConfigDirectory), policyText);

    /// <summary>`microseg ARGS` in the driver namespace with the lab's state paths; throws unless it exits 0.</summary>
    public string Microseg(params string[] args) => Agent.Run(args);

    /// <summary>As <see cref="Microseg"/>, and writes "[driver] microseg ARGS" and the output, indented, to <paramref name="log"/>.</summary>
    public void Show(TextWriter log, params string[] args) => Agent.Show(log, args);

    public ShellResult MicrosegResult(params string[] args) => Agent.Result(null, args);

    /// <summary>`microseg ARGS` in the driver namespace, with extra environment variables.</summary>
    public ShellResult MicrosegResult(IReadOnlyDictionary<string, string>? env, params string[] args) => Agent.Result(env, args);

    private LabAgent Agent => new(MicrosegBinary, DriverNamespace, ConfigDirectory, BpffsRoot, RunDirectory, "driver", new Dictionary<string, string>());

    /// <summary>Removes everything a forwarder lab of this name made. Safe on a half-built or absent lab.</summary>
    public static void Down(string name) => LabNamespaces.RemoveAll(Namespace(name, ""), DirectoryOf(name));

    /// <summary>The ifindexes of <paramref name="devices"/> in the driver namespace, from one netlink dump.</summary>
    private Dictionary<string, int> IfIndexes(IReadOnlyList<string> devices)
    {
        var links = NetworkNamespace.Run(DriverNamespace, () =>
        {
            using var netlink = new RtNetlink();
            return netlink.GetLinks().ToDictionary(l => l.Name, l => l.IfIndex);
        });
        foreach (var device in devices.Where(d => !links.ContainsKey(d)))
            throw new LabException($"forwarder lab {Name}: no {device} in {DriverNamespace}");
        return links;
    }

    // ---- traffic ------------------------------------------------------------------------------

    /// <summary>The MAC the router namespace sends from.</summary>
    public const string RouterMac = "02:4d:66:00:00:fe";

    /// <summary>A VLAN id no physical interface of a lab has (ifindexes in the fresh driver
    /// namespace are small).</summary>
    public const int UnknownVlan = 4000;

    /// <summary>Real frames through the forwarder, both ways, and the frames it must drop. Every
    /// outside sends one untagged frame: it must reach the router tagged with its physical
    /// interface's VLAN id, and no other outside. The router sends one frame per VLAN: it must
    /// reach that outside untagged, and no other. Then the router sends an unknown VLAN, an
    /// untagged frame and a truncated tagged one: nothing may leave any physical interface.</summary>
    public ForwarderLabReport Check()
    {
        var outsides = OutsidesPresent();
        var rows = new List<ForwarderLabRow>();
        var captures = new List<(string Label, FrameCapture Capture)>();
        try
        {
            foreach (var o in outsides)
            {
                captures.Add(($"router VLAN {o.VlanId}", FrameCapture.Open(RouterNamespace, "eth0", FrameFilter.Vlan(o.VlanId))));
                captures.Add(($"{o.Namespace} untagged", FrameCapture.Open(o.Namespace, "eth0", FrameFilter.Untagged)));
                captures.Add(($"{o.Namespace} tagged", FrameCapture.Open(o.Namespace, "eth0", FrameFilter.AnyTag)));
            }
            captures.Add(("router untagged", FrameCapture.Open(RouterNamespace, "eth0", FrameFilter.Untagged)));
            foreach (var o in outsides)
                RawFrames.Send(o.Namespace, "eth0", RawFrames.Build(o.Mac, null, $"from {o.Namespace}"));
            foreach (var o in outsides)
                RawFrames.Send(RouterNamespace, "eth0", RawFrames.Build(RouterMac, o.VlanId, $"from router VLAN {o.VlanId}"));
            // What should arrive, within 3 s (softirq work may be deferred on a loaded machine);
            // anything else, within the same time and at least 300 ms.
            var expected = outsides.SelectMany(o => new[] { ($"from {o.Namespace}", $"router VLAN {o.VlanId}"), ($"from router VLAN {o.VlanId}", $"{o.Namespace} untagged") }).ToList();
            var heard = new HashSet<(string Sender, string Receiver)>();
            var (least, most) = (DateTime.UtcNow.AddMilliseconds(300), DateTime.UtcNow.AddSeconds(3));
            do
            {
                Thread.Sleep(50);
                foreach (var c in captures)
                    foreach (var l in c.Capture.Labels()) heard.Add((l, c.Label));
            }
            while (DateTime.UtcNow < least || (!expected.All(heard.Contains) && DateTime.UtcNow < most));
            foreach (var o in outsides)
            {
                foreach (var (label, _) in captures)
                    rows.Add(new($"{o.Namespace} sends untagged → {label}", label == $"router VLAN {o.VlanId}", heard.Contains(($"from {o.Namespace}", label))));
                foreach (var (label, _) in captures)
                    rows.Add(new($"router sends VLAN {o.VlanId} → {label}", label == $"{o.Namespace} untagged", heard.Contains(($"from router VLAN {o.VlanId}", label))));
            }

            // Drops: nothing may leave a physical interface (its tx counters stay put). First a
            // control: a frame the forwarder does send moves the counters.
            var first = outsides[0];
            var control = PhysicalTx(outsides);
            RawFrames.Send(RouterNamespace, "eth0", RawFrames.Build(RouterMac, first.VlanId, "control"));
            var controlBy = DateTime.UtcNow.AddSeconds(3);
            do Thread.Sleep(50);
            while (PhysicalTx(outsides) == control && DateTime.UtcNow < controlBy);
            Thread.Sleep(100);
            var before = PhysicalTx(outsides);
            rows.Add(new($"router sends VLAN {first.VlanId} → physical tx counters move (control)", true, before > control));
            foreach (var c in captures) c.Capture.Labels();
            var drops = new (string Check, byte[] Frame)[]
            {
                ($"router sends unknown VLAN {UnknownVlan}", RawFrames.Build(RouterMac, UnknownVlan, "unknown vlan")),
                ("router sends untagged", RawFrames.Build(RouterMac, null, "untagged")),
                ($"router sends truncated tag (16 bytes, VLAN {first.VlanId})", RawFrames.Build(RouterMac, first.VlanId, "truncated")[..16]),
            };
            foreach (var (_, frame) in drops) RawFrames.Send(RouterNamespace, "eth0", frame);
            Thread.Sleep(300);
            var after = PhysicalTx(outsides);
            var leaked = captures.SelectMany(c => c.Capture.Labels()).ToHashSet();
            foreach (var (check, _) in drops)
                rows.Add(new($"{check} → any outside", false, after != before || leaked.Count > 0));
            return new ForwarderLabReport(rows);
        }
        finally
        {
            foreach (var (_, c) in captures) c.Dispose();
        }
    }

    /// <summary>Frames (and drops) sent out of every physical interface, from the kernel's
    /// counters (one `ip -s link show` for all of them).</summary>
    private long PhysicalTx(IEnumerable<ForwarderOutside> outsides)
    {
        var names = outsides.Select(o => o.Physical).ToHashSet();
        using var json = JsonDocument.Parse(Shell.Ip("-n", DriverNamespace, "-j", "-s", "link", "show"));
        return json.RootElement.EnumerateArray().Where(l => names.Contains(l.GetProperty("ifname").GetString()!)).Sum(l =>
        {
            var tx = l.GetProperty("stats64").GetProperty("tx");
            return tx.GetProperty("packets").GetInt64() + tx.GetProperty("dropped").GetInt64();
        });
    }
}

public sealed record ForwarderLabRow(string Check, bool Expected, bool Observed)
{
    public bool AsExpected => Expected == Observed;
}

public sealed record ForwarderLabReport(IReadOnlyList<ForwarderLabRow> Rows)
{
    public bool AllAsExpected => Rows.All(r => r.AsExpected);

    /// <summary>One line per check, observed/expected; '!' marks a difference.</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        var width = Rows.Max(r => r.Check.Length);
        foreach (var r in Rows)
            sb.AppendLine($"{r.Check.PadRight(width)}  {Word(r.Observed)}/{Word(r.Expected)}{(r.AsExpected ? "" : "  !")}");
        sb.AppendLine(AllAsExpected
            ? $"result: every frame went where the forwarder sends it ({Rows.Count} checks)"
            : $"result: MISMATCH ({Rows.Count(r => !r.AsExpected)} of {Rows.Count} checks)");
        return sb.ToString();

        static string Word(bool arrived) => arrived ? "arrives" : "dropped";
    }
}
