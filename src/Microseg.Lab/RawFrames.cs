// Raw Ethernet frames through AF_PACKET sockets: built and sent as they are (the tag, when there
// is one, in the frame's bytes) and captured through a classic BPF socket filter.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microseg.Netlink;

namespace Microseg.Lab;

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
        using var socket = Open(device, 0, filter: null);
        socket.Send(frame);
    });

    /// <summary>An AF_PACKET socket of this thread's namespace bound to <paramref name="device"/>
    /// that receives <paramref name="protocol"/> (0: nothing) through <paramref name="filter"/>.</summary>
    private static Socket Open(string device, ushort protocol, IReadOnlyList<ulong>? filter)
    {
        int ifIndex;
        using (var netlink = new RtNetlink())
            ifIndex = (netlink.GetLink(device) ?? throw new LabException($"no interface {device} in this namespace")).IfIndex;
        var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Unspecified); // receives nothing until bound
        try
        {
            if (filter is not null) AttachFilter(socket, filter);
            socket.Bind(new LinkLayerEndPoint(ifIndex, protocol));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A capture socket: every protocol, through <paramref name="filter"/>.</summary>
    internal static Socket OpenCapture(string device, IReadOnlyList<ulong> filter) => Open(device, EthPAll, filter);

    /// <summary>SO_ATTACH_FILTER with a classic BPF program (struct sock_filter, 8 bytes each).</summary>
    private static void AttachFilter(Socket socket, IReadOnlyList<ulong> program)
    {
        const int SO_ATTACH_FILTER = 26;
        var code = program.ToArray();
        var pin = System.Runtime.InteropServices.GCHandle.Alloc(code, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            var fprog = new byte[16]; // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            BitConverter.TryWriteBytes(fprog.AsSpan(0, 2), (ushort)code.Length);
            BitConverter.TryWriteBytes(fprog.AsSpan(8, 8), (long)pin.AddrOfPinnedObject());
            socket.SetRawSocketOption(Interop.Libc.SOL_SOCKET, SO_ATTACH_FILTER, fprog);
        }
        finally
        {
            pin.Free();
        }
    }

    /// <summary>struct sockaddr_ll for bind: sll_family (2), sll_protocol (2, network order),
    /// sll_ifindex (4), sll_hatype (2), sll_pkttype (1), sll_halen (1), sll_addr (8).</summary>
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
