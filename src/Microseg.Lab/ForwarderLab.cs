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
using System.Net;
using System.Net.Sockets;
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

    private readonly NativePeerAttach? nativePeer;
    private readonly IReadOnlyList<string>? physical;

    /// <param name="physical">The forwarder's physical list (names or "*"); default phys1..physN.</param>
    public ForwarderLab(string name, string microsegBinary, ForwarderMode mode, int outsides = 2,
        NativePeerAttach? nativePeer = null, IReadOnlyList<string>? physical = null)
    {
        if (!Names.IsGroupName(name) || name.Length > 8) throw new LabException($"forwarder lab name '{name}' must be a short name (a letter, then letters, digits, '-'; up to 8)");
        if (outsides is < 1 or > 50) throw new LabException($"a forwarder lab has 1..50 outside namespaces, not {outsides}");
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

    public string PolicyText => $"forwarder: {ForwarderName}\n\trouter {Router}\n\tphysical {string.Join(',', physical ?? [.. Enumerable.Range(1, Outsides).Select(i => $"phys{i}")])}\n\tmode {(Mode == ForwarderMode.Native ? "native" : "skb")}\n";

    private static string DirectoryOf(string name) => Path.Combine(Lab.RunRoot, $"msf-{name}");
    private static string Namespace(string name, string member) => $"msf-{name}-{member}";
    private static string StatePath(string name) => Path.Combine(DirectoryOf(name), "lab.json");

    private sealed record State(string Mode, int Outsides, List<string>? Physical);

    /// <summary>A lab that `Up` made earlier, found by name.</summary>
    public static ForwarderLab Existing(string name, string microsegBinary, NativePeerAttach? nativePeer = null)
    {
        if (!File.Exists(StatePath(name))) throw new LabException($"no forwarder lab '{name}' is up (no {StatePath(name)}); run 'microseg forwarder lab up' first");
        var state = JsonSerializer.Deserialize<State>(File.ReadAllText(StatePath(name)))!;
        return new ForwarderLab(name, microsegBinary, state.Mode == "native" ? ForwarderMode.Native : ForwarderMode.Skb, state.Outsides, nativePeer, state.Physical);
    }

    /// <summary>The outside namespaces present, in order.</summary>
    public IReadOnlyList<ForwarderOutside> OutsidesPresent()
    {
        var list = new List<ForwarderOutside>();
        for (int i = 1; i <= 50; i++)
        {
            if (!File.Exists(Path.Combine(NetworkNamespace.NamedNamespacesDirectory, OutsideNamespace(i)))) continue;
            list.Add(new ForwarderOutside(i, OutsideNamespace(i), $"phys{i}", IfIndex(DriverNamespace, $"phys{i}")));
        }
        return list;
    }

    /// <summary>Creates the namespaces and links, commits the forwarder and applies it in the
    /// driver namespace. On failure everything made so far is removed.</summary>
    public void Up(TextWriter log)
    {
        Down(Name);
        try
        {
            System.IO.Directory.CreateDirectory(ConfigDirectory);
            File.WriteAllText(StatePath(Name), JsonSerializer.Serialize(new State(Mode == ForwarderMode.Native ? "native" : "skb", Outsides, physical?.ToList())));
            foreach (var ns in new[] { DriverNamespace, RouterNamespace }) CreateNamespace(ns);
            // The driver's own bpffs, outside /sys (ip netns exec remounts /sys).
            System.IO.Directory.CreateDirectory(BpffsMount);
            Shell.Check("mount", "-t", "bpf", "bpffs", BpffsMount);
            Shell.Ip("link", "add", Router, "netns", DriverNamespace, "type", "veth", "peer", "name", "eth0", "netns", RouterNamespace);
            Shell.Ip("-n", DriverNamespace, "link", "set", Router, "up");
            Shell.Ip("-n", RouterNamespace, "link", "set", "eth0", "address", RouterMac);
            Shell.Ip("-n", RouterNamespace, "link", "set", "eth0", "up");
            if (Mode == ForwarderMode.Native) nativePeer!(RouterNamespace, "eth0", PeerPin("rtr"));
            for (int i = 1; i <= Outsides; i++) AddOutside(i);
            Commit(PolicyText);
            log.WriteLine($"forwarder lab {Name}: driver {DriverNamespace}, router {RouterNamespace} ({Router}), {Outsides} outside namespace(s), {(Mode == ForwarderMode.Native ? "native" : "skb")} mode");
            foreach (var o in OutsidesPresent())
                log.WriteLine($"  {o.Namespace} eth0 <-> [driver] {o.Physical} (ifindex {o.VlanId} = VLAN {o.VlanId}) ==> {Router} <-> {RouterNamespace} eth0, VLAN {o.VlanId}");
            log.WriteLine("[driver] microseg apply");
            foreach (var line in Microseg("apply").Split('\n', StringSplitOptions.RemoveEmptyEntries)) log.WriteLine($"  {line}");
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
        var phys = $"phys{index}";
        CreateNamespace(ns);
        Shell.Ip("link", "add", phys, "netns", DriverNamespace, "type", "veth", "peer", "name", "eth0", "netns", ns);
        var outside = new ForwarderOutside(index, ns, phys, IfIndex(DriverNamespace, phys));
        Shell.Ip("-n", ns, "link", "set", "eth0", "address", outside.Mac);
        Shell.Ip("-n", ns, "link", "set", "eth0", "up");
        Shell.Ip("-n", DriverNamespace, "link", "set", phys, "up");
        if (Mode == ForwarderMode.Native) nativePeer!(ns, "eth0", PeerPin($"out{index}"));
        return outside;
    }

    /// <summary>A namespace with lo up and IPv6 off (no router solicitations or MLD reports on
    /// the lab's links: the only frames are the lab's own).</summary>
    private static void CreateNamespace(string ns)
    {
        Shell.Ip("netns", "add", ns);
        foreach (var scope in new[] { "all", "default" })
            NetworkNamespace.Run(ns, () => File.WriteAllText($"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", "1"));
        Shell.Ip("-n", ns, "link", "set", "lo", "up");
    }

    private string PeerPin(string member)
    {
        var dir = Path.Combine(BpffsMount, "lab");
        System.IO.Directory.CreateDirectory(dir);
        return Path.Combine(dir, $"peer-{member}");
    }

    /// <summary>Replaces the committed config (and commits it), without applying.</summary>
    public Snapshot Commit(string policyText)
    {
        File.WriteAllText(Path.Combine(ConfigDirectory, ConfigStore.PendingFileName), policyText);
        return new ConfigStore(ConfigDirectory).Commit().Snapshot;
    }

    /// <summary>`microseg ARGS` in the driver namespace with the lab's state paths; throws unless it exits 0.</summary>
    public string Microseg(params string[] args)
    {
        var r = MicrosegResult(args);
        if (r.ExitCode != 0) throw new LabException($"[driver] microseg {string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr.Trim()}");
        return r.Stdout;
    }

    public ShellResult MicrosegResult(params string[] args) => MicrosegResult(null, args);

    /// <summary>`microseg ARGS` in the driver namespace, with extra environment variables.</summary>
    public ShellResult MicrosegResult(IReadOnlyDictionary<string, string>? env, params string[] args) =>
        Shell.RunWith(env, "ip", ["netns", "exec", DriverNamespace, MicrosegBinary, .. args,
            "--config-dir", ConfigDirectory, "--bpffs", BpffsRoot, "--run-dir", RunDirectory, "--node", "driver"]);

    /// <summary>Removes everything a forwarder lab of this name made. Safe on a half-built or absent lab.</summary>
    public static void Down(string name)
    {
        var prefix = Namespace(name, "");
        if (System.IO.Directory.Exists(NetworkNamespace.NamedNamespacesDirectory))
            foreach (var ns in System.IO.Directory.GetFiles(NetworkNamespace.NamedNamespacesDirectory).Select(Path.GetFileName).Where(n => n!.StartsWith(prefix, StringComparison.Ordinal)))
                Shell.Run("ip", "netns", "del", ns!);
        var dir = DirectoryOf(name);
        if (!System.IO.Directory.Exists(dir)) return;
        var mount = Path.Combine(dir, "bpffs");
        if (System.IO.Directory.Exists(mount)) Shell.Run("umount", mount);
        System.IO.Directory.Delete(dir, recursive: true);
    }

    public static int IfIndex(string netns, string device)
    {
        using var json = JsonDocument.Parse(Shell.Ip("-n", netns, "-j", "link", "show", "dev", device));
        return json.RootElement[0].GetProperty("ifindex").GetInt32();
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
            Thread.Sleep(300);
            var heard = captures.SelectMany(c => c.Capture.Labels().Select(l => (Sender: l, Receiver: c.Label))).ToHashSet();
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
            Thread.Sleep(200);
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

    /// <summary>Frames (and drops) sent out of every physical interface, from the kernel's counters.</summary>
    public long PhysicalTx(IEnumerable<ForwarderOutside> outsides)
    {
        long total = 0;
        foreach (var o in outsides)
        {
            using var json = JsonDocument.Parse(Shell.Ip("-n", DriverNamespace, "-j", "-s", "link", "show", "dev", o.Physical));
            var tx = json.RootElement[0].GetProperty("stats64").GetProperty("tx");
            total += tx.GetProperty("packets").GetInt64() + tx.GetProperty("dropped").GetInt64();
        }
        return total;
    }
}

/// <summary>Which received frames a capture keeps (always EtherType 0x88b5, never our own outgoing ones).</summary>
public readonly record struct FrameFilter(bool Tagged, int? VlanId)
{
    public static FrameFilter Untagged => new(false, null);
    public static FrameFilter AnyTag => new(true, null);
    public static FrameFilter Vlan(int id) => new(true, id);
}

/// <summary>Builds and sends raw Ethernet frames (EtherType 0x88b5, local experimental) through
/// AF_PACKET sockets: the tag, when there is one, is in the frame's bytes.</summary>
public static class RawFrames
{
    public const ushort EtherType = 0x88b5;
    private const ushort EthPAll = 0x0003;

    /// <summary>Broadcast frame from <paramref name="srcMac"/>, 802.1Q-tagged when <paramref name="vlan"/>
    /// is given, carrying <paramref name="label"/>, padded to the 60-byte Ethernet minimum.</summary>
    public static byte[] Build(string srcMac, int? vlan, string label)
    {
        var frame = new List<byte>();
        frame.AddRange(Enumerable.Repeat((byte)0xff, 6));
        frame.AddRange(System.Net.NetworkInformation.PhysicalAddress.Parse(srcMac.Replace(':', '-').ToUpperInvariant()).GetAddressBytes());
        if (vlan is { } id) frame.AddRange([0x81, 0x00, (byte)(id >> 8), (byte)id]);
        frame.AddRange([(byte)(EtherType >> 8), unchecked((byte)EtherType)]);
        frame.AddRange(Encoding.UTF8.GetBytes(label));
        frame.Add(0);
        while (frame.Count < 60) frame.Add(0);
        return [.. frame];
    }

    /// <summary>Sends <paramref name="frame"/> as is out of <paramref name="device"/> in <paramref name="netns"/>.</summary>
    public static void Send(string netns, string device, byte[] frame) => NetworkNamespace.Run(netns, () =>
    {
        using var socket = Open(device, 0);
        socket.Send(frame);
    });

    internal static Socket Open(string device, ushort protocol)
    {
        using var netlink = new RtNetlink();
        var link = netlink.GetLink(device) ?? throw new LabException($"no interface {device} in this namespace");
        var socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(protocol));
        try
        {
            socket.Bind(new LinkLayerEndPoint(link.IfIndex, protocol));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    internal static Socket OpenCapture(string device, IReadOnlyList<ulong> filter)
    {
        using var netlink = new RtNetlink();
        var link = netlink.GetLink(device) ?? throw new LabException($"no interface {device} in this namespace");
        var socket = new Socket(AddressFamily.Packet, SocketType.Raw, 0); // receives nothing until bound
        try
        {
            AttachFilter(socket, filter);
            socket.Bind(new LinkLayerEndPoint(link.IfIndex, EthPAll));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>SO_ATTACH_FILTER with a classic BPF program (struct sock_filter, 8 bytes each).</summary>
    private static void AttachFilter(Socket socket, IReadOnlyList<ulong> program)
    {
        const int SOL_SOCKET = 1, SO_ATTACH_FILTER = 26;
        var code = program.ToArray();
        var pin = System.Runtime.InteropServices.GCHandle.Alloc(code, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            var fprog = new byte[16]; // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            BitConverter.TryWriteBytes(fprog.AsSpan(0, 2), (ushort)code.Length);
            BitConverter.TryWriteBytes(fprog.AsSpan(8, 8), (long)pin.AddrOfPinnedObject());
            socket.SetRawSocketOption(SOL_SOCKET, SO_ATTACH_FILTER, fprog);
        }
        finally
        {
            pin.Free();
        }
    }

    /// <summary>struct sockaddr_ll for bind: family, protocol (network order), ifindex.</summary>
    private sealed class LinkLayerEndPoint(int ifIndex, ushort protocol) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize()
        {
            var address = new SocketAddress(AddressFamily.Packet, 20);
            address[2] = (byte)(protocol >> 8);
            address[3] = (byte)protocol;
            var index = BitConverter.GetBytes(ifIndex);
            for (int i = 0; i < 4; i++) address[4 + i] = index[i];
            return address;
        }

        public override EndPoint Create(SocketAddress socketAddress) => this;
    }
}

/// <summary>An AF_PACKET socket on one interface that keeps the frames a <see cref="FrameFilter"/>
/// lets through (a classic BPF socket filter: the kernel moves a received tag out of the frame
/// into metadata before taps see it, so the filter asks for it there).</summary>
public sealed class FrameCapture : IDisposable
{
    private readonly Socket socket;

    private FrameCapture(Socket socket) => this.socket = socket;

    public static FrameCapture Open(string netns, string device, FrameFilter filter) =>
        new(NetworkNamespace.Run(netns, () => RawFrames.OpenCapture(device, Program(filter))));

    /// <summary>The labels of the frames received so far (read and forgotten).</summary>
    public IReadOnlyList<string> Labels()
    {
        var labels = new List<string>();
        var buffer = new byte[2048];
        while (socket.Available > 0)
        {
            int n = socket.Receive(buffer);
            if (n <= 14) continue;
            var payload = buffer.AsSpan(14, n - 14); // the tag, if any, was taken out of the data
            int end = payload.IndexOf((byte)0);
            labels.Add(Encoding.UTF8.GetString(end < 0 ? payload : payload[..end]));
        }
        return labels;
    }

    public void Dispose() => socket.Dispose();

    // Classic BPF (linux/filter.h): ld/ldh absolute, jeq, and, ret; SKF_AD_* ancillary loads.
    private const ushort LdW = 0x20, LdH = 0x28, Jeq = 0x15, And = 0x54, Ret = 0x06;
    private const uint SkfAdOff = 0xfffff000, SkfAdPktType = 4, SkfAdVlanTag = 44, SkfAdVlanTagPresent = 48;
    private const uint PacketOutgoing = 4;

    private static List<ulong> Program(FrameFilter filter)
    {
        // Each jump targets "reject" (the last instruction); offsets are fixed up at the end.
        var code = new List<(ushort Op, bool JumpOnTrue, bool JumpOnFalse, uint K)>
        {
            (LdW, false, false, SkfAdOff + SkfAdPktType),
            (Jeq, true, false, PacketOutgoing),            // our own sends: reject
            (LdW, false, false, SkfAdOff + SkfAdVlanTagPresent),
            (Jeq, filter.Tagged, !filter.Tagged, 0),      // tagged wanted: present == 0 rejects
        };
        if (filter.VlanId is { } id)
        {
            code.Add((LdW, false, false, SkfAdOff + SkfAdVlanTag));
            code.Add((And, false, false, 0x0fff));
            code.Add((Jeq, false, true, (uint)id));
        }
        code.Add((LdH, false, false, 12));
        code.Add((Jeq, false, true, RawFrames.EtherType));
        code.Add((Ret, false, false, 0xffff));
        code.Add((Ret, false, false, 0));
        int reject = code.Count - 1;
        return [.. code.Select((c, i) =>
        {
            byte jt = c.JumpOnTrue ? (byte)(reject - i - 1) : (byte)0;
            byte jf = c.JumpOnFalse ? (byte)(reject - i - 1) : (byte)0;
            return c.Op | ((ulong)jt << 16) | ((ulong)jf << 24) | ((ulong)c.K << 32);
        })];
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
