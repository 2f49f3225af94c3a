// What the agent needs to know about one network interface, as RTM_NEWLINK reports it.
using System.Net;
using System.Net.NetworkInformation;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

public sealed record LinkInfo
{
    public required int IfIndex { get; init; }

    public required string Name { get; init; }

    /// <summary>IFLA_INFO_KIND: "veth", "bridge", "vxlan", "netkit", "tun", ...; null for physical and loopback devices.</summary>
    public string? Kind { get; init; }

    /// <summary>IFLA_MASTER: the bridge (or bond, VRF) this link is enslaved to.</summary>
    public int? MasterIfIndex { get; init; }

    public LinkFlags Flags { get; init; }

    public LinkOperState OperState { get; init; }

    public int Mtu { get; init; }

    /// <summary>IFLA_ADDRESS: the MAC address for Ethernet-like links.</summary>
    public PhysicalAddress? Address { get; init; }

    /// <summary>
    /// IFLA_LINK: for veth and netkit the peer's ifindex, counted in the peer's namespace
    /// (<see cref="LinkNetnsId"/> when that is another one); for stacked devices the lower link.
    /// </summary>
    public int? LinkIfIndex { get; init; }

    /// <summary>IFLA_LINK_NETNSID: our namespace's id for the namespace <see cref="LinkIfIndex"/> lives in, when it is not ours.</summary>
    public int? LinkNetnsId { get; init; }

    /// <summary>The vxlan settings, for <see cref="Kind"/> "vxlan" only.</summary>
    public VxlanInfo? Vxlan { get; init; }

    public bool IsUp => (Flags & LinkFlags.Up) != 0;
}

/// <param name="Id">IFLA_VXLAN_ID, the VNI.</param>
/// <param name="Gbp">IFLA_VXLAN_GBP is present: the device carries skb->mark in the Group Policy extension. Only settable at creation.</param>
/// <param name="Port">IFLA_VXLAN_PORT, the UDP destination port.</param>
/// <param name="Local">IFLA_VXLAN_LOCAL(6), null when unset.</param>
/// <param name="Remote">IFLA_VXLAN_GROUP(6): the unicast remote or multicast group, null when unset.</param>
public sealed record VxlanInfo(uint Id, bool Gbp, ushort? Port, IPAddress? Local, IPAddress? Remote);

/// <summary>ifi_flags: the IFF_* bits of &lt;linux/if.h&gt;.</summary>
[Flags]
public enum LinkFlags : uint
{
    None = 0,
    Up = IFF_UP,
    Broadcast = IFF_BROADCAST,
    Debug = IFF_DEBUG,
    Loopback = IFF_LOOPBACK,
    PointToPoint = IFF_POINTOPOINT,
    NoTrailers = IFF_NOTRAILERS,
    Running = IFF_RUNNING,
    NoArp = IFF_NOARP,
    Promiscuous = IFF_PROMISC,
    AllMulticast = IFF_ALLMULTI,
    Master = IFF_MASTER,
    Slave = IFF_SLAVE,
    Multicast = IFF_MULTICAST,
    PortSelect = IFF_PORTSEL,
    AutoMedia = IFF_AUTOMEDIA,
    Dynamic = IFF_DYNAMIC,
    LowerUp = IFF_LOWER_UP,
    Dormant = IFF_DORMANT,
    Echo = IFF_ECHO,
}

/// <summary>IFLA_OPERSTATE (RFC 2863): the IF_OPER_* values of &lt;linux/if.h&gt;.</summary>
public enum LinkOperState : byte
{
    Unknown = IF_OPER_UNKNOWN,
    NotPresent = IF_OPER_NOTPRESENT,
    Down = IF_OPER_DOWN,
    LowerLayerDown = IF_OPER_LOWERLAYERDOWN,
    Testing = IF_OPER_TESTING,
    Dormant = IF_OPER_DORMANT,
    Up = IF_OPER_UP,
}
