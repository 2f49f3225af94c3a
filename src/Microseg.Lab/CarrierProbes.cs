// Real packets across the carrier: what group does a receiving host see on a guest's packet?
// A guest sends a UDP datagram to another host's own address; a MarkReceiver there reads the
// mark. In SRv6 labs a guest can also send its own SRv6 packet (a raw frame from inside the
// guest) with a tag of its choosing, extension headers before the SRH, an inner datagram for
// the other host's End.DX4 to deliver.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microseg.Netlink;

namespace Microseg.Lab;

/// <summary>A guest's own SRv6 packet: the tag it claims and the extension headers before its SRH.</summary>
public sealed record OwnSrv6Packet(ushort ClaimedTag, IReadOnlyList<ExtensionHeader> Before)
{
    public static OwnSrv6Packet Plain(ushort claimedTag) => new(claimedTag, []);
}

public sealed class CarrierProbes(Lab lab)
{
    public const int GroupPort = 7103;
    private const int Attempts = 2;

    /// <summary>For every guest and every other host: the group (low 16 bits of the mark) that
    /// host saw on a datagram from the guest; null when nothing arrived.</summary>
    public Dictionary<(string Guest, string Host), ushort?> ObservedGroups(IReadOnlyList<LabGuest> guests, OwnSrv6Packet? ownPacket = null) =>
        ObservedGroups(guests, _ => ownPacket);

    /// <summary>As above, each guest sending a plain datagram (null) or its own SRv6 packet.</summary>
    public Dictionary<(string Guest, string Host), ushort?> ObservedGroups(IReadOnlyList<LabGuest> guests, Func<LabGuest, OwnSrv6Packet?> ownPacket)
    {
        var hosts = lab.Spec.Hosts.Where(h => lab.Spec.HostIp(h) is not null).ToList();
        var receivers = hosts.ToDictionary(h => h.Name, h => new MarkReceiver(lab.Namespace(h.Name), lab.Spec.HostIp(h)!, GroupPort));
        try
        {
            var pairs = guests.SelectMany(g => hosts.Where(h => h.Name != g.Host).Select(h => (Guest: g, Host: h))).ToList();
            for (int i = 0; i < Attempts; i++)
                foreach (var (g, h) in pairs)
                {
                    if (ownPacket(g) is { } packet) SendOwnSrv6(g, h, lab.Spec.HostIp(h)!, GroupPort, packet, Encoding.ASCII.GetBytes(g.Name));
                    else SendDatagram(g, lab.Spec.HostIp(h)!, GroupPort, Encoding.ASCII.GetBytes(g.Name));
                }
            // Wait for every pair (a loaded machine can be slow), but no longer than the deadline:
            // a datagram that does not come in time was dropped.
            var seen = new Dictionary<(string, string), ushort>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            do
            {
                foreach (var h in hosts)
                    foreach (var d in receivers[h.Name].Drain(TimeSpan.FromMilliseconds(100)))
                        seen[(Encoding.ASCII.GetString(d.Payload), h.Name)] = d.Group;
            }
            while (seen.Count < pairs.Count && DateTime.UtcNow < deadline);
            return pairs.ToDictionary(p => (p.Guest.Name, p.Host.Name), p => seen.TryGetValue((p.Guest.Name, p.Host.Name), out var group) ? group : (ushort?)null);
        }
        finally
        {
            foreach (var r in receivers.Values) r.Dispose();
        }
    }

    /// <summary>One UDP datagram from inside the guest.</summary>
    private void SendDatagram(LabGuest from, IPAddress to, int port, byte[] payload) =>
        NetworkNamespace.Run(lab.Namespace(from.Name), () =>
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.SendTo(payload, new IPEndPoint(to, port));
        });

    /// <summary>The guest's own SRv6 packet to <paramref name="to"/>'s End.DX4 SID, sent as a
    /// raw frame to its gateway, carrying an IPv4/UDP datagram for <paramref name="innerDestination"/>.</summary>
    public void SendOwnSrv6(LabGuest from, LabHost to, IPAddress innerDestination, int port, OwnSrv6Packet packet, byte[] payload)
    {
        if (lab.Spec.Carrier != LabCarrier.Srv6) throw new LabException($"lab {lab.Spec.Name} does not carry SRv6 (carrier {lab.Spec.Carrier.Name()})");
        var frame = Srv6Frame.Build(from.Mac, LabNetwork.BridgeMac(lab.Spec.HostIndex(from.Host)), LabNetwork.GuestIpv6(from),
            LabNetwork.Dx4Sid(lab.Spec.HostIndex(to.Name)), packet.ClaimedTag, packet.Before, from.Ip, innerDestination, (ushort)port, payload);
        RawFrames.Send(lab.Namespace(from.Name), from.GuestNic, frame);
    }
}
