// RTM_NEWLINK (struct ifinfomsg + IFLA_* attributes) to LinkInfo. Attributes we do not need
// are skipped; the ones we read must have the size the kernel gives them.
using System.Net;
using System.Net.NetworkInformation;
using System.Runtime.InteropServices;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

public static class LinkMessageParser
{
    /// <exception cref="NetlinkFormatException">the message is not a well-formed RTM_NEWLINK.</exception>
    public static LinkInfo Parse(NetlinkMessage message) => Parse(message, RTM_NEWLINK, "RTM_NEWLINK");

    /// <summary>RTM_DELLINK carries the same ifinfomsg and attributes as RTM_NEWLINK: the link as it was.</summary>
    /// <exception cref="NetlinkFormatException">the message is not a well-formed RTM_DELLINK.</exception>
    internal static LinkInfo ParseDeleted(NetlinkMessage message) => Parse(message, RTM_DELLINK, "RTM_DELLINK");

    /// <summary>ifi_family: AF_UNSPEC for the link itself, AF_BRIDGE for a bridge's view of its port.</summary>
    /// <exception cref="NetlinkFormatException">the payload is too short for struct ifinfomsg.</exception>
    internal static byte Family(NetlinkMessage message) => IfInfo(message, message.Type == RTM_DELLINK ? "RTM_DELLINK" : "RTM_NEWLINK")[Layout.ifinfomsg_ifi_family];

    private static LinkInfo Parse(NetlinkMessage message, ushort type, string typeName)
    {
        if (message.Type != type)
            throw new NetlinkFormatException($"message at offset {message.Offset}: type {message.Type} is not {typeName} ({type})");
        var payload = IfInfo(message, typeName);
        int ifIndex = MemoryMarshal.Read<int>(payload[Layout.ifinfomsg_ifi_index..]);
        try
        {
            return Parse(ifIndex, (LinkFlags)MemoryMarshal.Read<uint>(payload[Layout.ifinfomsg_ifi_flags..]),
                new NetlinkAttributeReader(payload[NetlinkMessageReader.Align(Layout.sizeof_ifinfomsg)..]));
        }
        catch (NetlinkFormatException e)
        {
            throw new NetlinkFormatException($"{typeName} for ifindex {ifIndex} at offset {message.Offset}: {e.Message}");
        }
    }

    private static ReadOnlySpan<byte> IfInfo(NetlinkMessage message, string typeName) =>
        message.Payload.Length >= Layout.sizeof_ifinfomsg
            ? message.Payload
            : throw new NetlinkFormatException(
                $"{typeName} at offset {message.Offset}: payload is {message.Payload.Length} bytes, struct ifinfomsg needs {Layout.sizeof_ifinfomsg}");

    private static LinkInfo Parse(int ifIndex, LinkFlags flags, NetlinkAttributeReader attributes)
    {
        string? name = null, kind = null;
        int? master = null, link = null, linkNetnsId = null;
        int mtu = 0;
        var operState = LinkOperState.Unknown;
        PhysicalAddress? address = null;
        VxlanInfo? vxlan = null;
        foreach (var attribute in attributes)
        {
            switch (attribute.Type)
            {
                case IFLA_IFNAME: name = attribute.GetString(); break;
                case IFLA_MTU: mtu = (int)attribute.GetUInt32(); break;
                case IFLA_MASTER: master = NonZero(attribute.GetInt32()); break;
                case IFLA_LINK: link = NonZero(attribute.GetInt32()); break;
                case IFLA_LINK_NETNSID: linkNetnsId = attribute.GetInt32(); break;
                case IFLA_OPERSTATE: operState = (LinkOperState)attribute.GetByte(); break;
                case IFLA_ADDRESS: address = new PhysicalAddress(attribute.Payload.ToArray()); break;
                case IFLA_LINKINFO: (kind, vxlan) = ParseLinkInfo(attribute.GetNested()); break;
            }
        }
        if (name is null)
            throw new NetlinkFormatException("no IFLA_IFNAME attribute");
        return new LinkInfo
        {
            IfIndex = ifIndex,
            Name = name,
            Kind = kind,
            MasterIfIndex = master,
            Flags = flags,
            OperState = operState,
            Mtu = mtu,
            Address = address,
            LinkIfIndex = link,
            LinkNetnsId = linkNetnsId,
            Vxlan = vxlan,
        };
    }

    // The kernel reports IFLA_MASTER 0 / IFLA_LINK 0 for "none" in some paths (a veth whose peer is gone).
    private static int? NonZero(int ifIndex) => ifIndex == 0 ? null : ifIndex;

    private static (string? Kind, VxlanInfo? Vxlan) ParseLinkInfo(NetlinkAttributeReader attributes)
    {
        string? kind = null;
        // IFLA_INFO_DATA means something different for each IFLA_INFO_KIND: find the kind
        // first, then read the data in a second pass (the reader is a value; copies restart).
        foreach (var attribute in attributes)
            if (attribute.Type == IFLA_INFO_KIND) kind = attribute.GetString();
        VxlanInfo? vxlan = null;
        if (kind == "vxlan")
            foreach (var attribute in attributes)
                if (attribute.Type == IFLA_INFO_DATA) vxlan = ParseVxlan(attribute.GetNested());
        return (kind, vxlan);
    }

    private static VxlanInfo ParseVxlan(NetlinkAttributeReader attributes)
    {
        uint? id = null;
        bool gbp = false;
        ushort? port = null;
        IPAddress? local = null, remote = null;
        foreach (var attribute in attributes)
        {
            switch (attribute.Type)
            {
                case IFLA_VXLAN_ID: id = attribute.GetUInt32(); break;
                case IFLA_VXLAN_GBP: gbp = true; break;
                case IFLA_VXLAN_PORT: port = attribute.GetUInt16BigEndian(); break;
                case IFLA_VXLAN_LOCAL: local = Address(attribute, 4); break;
                case IFLA_VXLAN_LOCAL6: local = Address(attribute, 16); break;
                case IFLA_VXLAN_GROUP: remote = Address(attribute, 4); break;
                case IFLA_VXLAN_GROUP6: remote = Address(attribute, 16); break;
            }
        }
        if (id is null)
            throw new NetlinkFormatException("vxlan IFLA_INFO_DATA has no IFLA_VXLAN_ID");
        return new VxlanInfo(id.Value, gbp, port, local, remote);
    }

    private static IPAddress Address(NetlinkAttribute attribute, int size) =>
        attribute.Payload.Length == size
            ? new IPAddress(attribute.Payload)
            : throw new NetlinkFormatException(
                $"attribute type {attribute.Type} at offset {attribute.Offset}: address is {attribute.Payload.Length} bytes, expected {size}");
}
