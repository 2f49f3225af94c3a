// Linux UAPI constants and struct offsets this assembly relies on, named exactly as in the C
// headers so the layout test can compile each one against them with _Static_assert.
namespace Microseg.Netlink;

#pragma warning disable IDE1006 // C names on purpose
internal static class Uapi
{
    // <sys/socket.h>, <fcntl.h>, <linux/sched.h>
    public const int AF_NETLINK = 16;
    public const int AF_UNSPEC = 0;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int MSG_PEEK = 0x2;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const int SOL_SOCKET = 1;
    public const int SO_RCVBUF = 8;
    public const int SO_RCVBUFFORCE = 33;
    public const byte AF_BRIDGE = 7;
    public const int O_RDONLY = 0;
    public const int O_CLOEXEC = 0x80000;
    public const int CLONE_NEWNET = 0x40000000;

    // <poll.h>, <sys/eventfd.h>
    public const short POLLIN = 0x1;
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    // <linux/netlink.h>
    public const int NETLINK_ROUTE = 0;
    public const int SOL_NETLINK = 270;
    public const int NETLINK_CAP_ACK = 10;
    public const int NETLINK_EXT_ACK = 11;
    public const int NLMSG_ALIGNTO = 4;
    public const int NLMSG_HDRLEN = 16;
    public const int NLA_HDRLEN = 4;
    public const int NLA_ALIGNTO = 4;
    public const ushort NLMSG_NOOP = 1;
    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;
    public const ushort NLMSG_OVERRUN = 4;
    public const ushort NLM_F_REQUEST = 0x01;
    public const ushort NLM_F_MULTI = 0x02;
    public const ushort NLM_F_ACK = 0x04;
    public const ushort NLM_F_DUMP_INTR = 0x10;
    public const ushort NLM_F_DUMP = 0x300;
    public const ushort NLM_F_CAPPED = 0x100;
    public const ushort NLM_F_ACK_TLVS = 0x200;
    public const ushort NLA_F_NESTED = 1 << 15;
    public const ushort NLA_F_NET_BYTEORDER = 1 << 14;
    public const ushort NLMSGERR_ATTR_MSG = 1;
    public const ushort NLMSGERR_ATTR_OFFS = 2;

    // <linux/rtnetlink.h>
    public const ushort RTM_NEWLINK = 16;
    public const ushort RTM_DELLINK = 17;
    public const ushort RTM_GETLINK = 18;
    public const uint RTEXT_FILTER_SKIP_STATS = 1 << 3;
    public const int RTNLGRP_LINK = 1;
    public const uint RTMGRP_LINK = 1;

    // <linux/if_link.h>
    public const ushort IFLA_ADDRESS = 1;
    public const ushort IFLA_IFNAME = 3;
    public const ushort IFLA_MTU = 4;
    public const ushort IFLA_LINK = 5;
    public const ushort IFLA_MASTER = 10;
    public const ushort IFLA_OPERSTATE = 16;
    public const ushort IFLA_LINKINFO = 18;
    public const ushort IFLA_EXT_MASK = 29;
    public const ushort IFLA_LINK_NETNSID = 37;
    public const ushort IFLA_INFO_KIND = 1;
    public const ushort IFLA_INFO_DATA = 2;
    public const ushort IFLA_VXLAN_ID = 1;
    public const ushort IFLA_VXLAN_GROUP = 2;
    public const ushort IFLA_VXLAN_LOCAL = 4;
    public const ushort IFLA_VXLAN_PORT = 15;
    public const ushort IFLA_VXLAN_GROUP6 = 16;
    public const ushort IFLA_VXLAN_LOCAL6 = 17;
    public const ushort IFLA_VXLAN_GBP = 23;

    // <linux/if.h>
    public const int IFNAMSIZ = 16;
    public const uint IFF_UP = 0x1;
    public const uint IFF_BROADCAST = 0x2;
    public const uint IFF_DEBUG = 0x4;
    public const uint IFF_LOOPBACK = 0x8;
    public const uint IFF_POINTOPOINT = 0x10;
    public const uint IFF_NOTRAILERS = 0x20;
    public const uint IFF_RUNNING = 0x40;
    public const uint IFF_NOARP = 0x80;
    public const uint IFF_PROMISC = 0x100;
    public const uint IFF_ALLMULTI = 0x200;
    public const uint IFF_MASTER = 0x400;
    public const uint IFF_SLAVE = 0x800;
    public const uint IFF_MULTICAST = 0x1000;
    public const uint IFF_PORTSEL = 0x2000;
    public const uint IFF_AUTOMEDIA = 0x4000;
    public const uint IFF_DYNAMIC = 0x8000;
    public const uint IFF_LOWER_UP = 0x10000;
    public const uint IFF_DORMANT = 0x20000;
    public const uint IFF_ECHO = 0x40000;
    public const byte IF_OPER_UNKNOWN = 0;
    public const byte IF_OPER_NOTPRESENT = 1;
    public const byte IF_OPER_DOWN = 2;
    public const byte IF_OPER_LOWERLAYERDOWN = 3;
    public const byte IF_OPER_TESTING = 4;
    public const byte IF_OPER_DORMANT = 5;
    public const byte IF_OPER_UP = 6;
}

/// <summary>
/// Offsets and sizes of the C structs read and written as bytes: `struct_field` is
/// offsetof(struct struct, field), `sizeof_struct` is sizeof(struct struct).
/// </summary>
internal static class Layout
{
    public const int sizeof_nlmsghdr = 16;
    public const int nlmsghdr_nlmsg_len = 0;
    public const int nlmsghdr_nlmsg_type = 4;
    public const int nlmsghdr_nlmsg_flags = 6;
    public const int nlmsghdr_nlmsg_seq = 8;
    public const int nlmsghdr_nlmsg_pid = 12;

    public const int sizeof_nlattr = 4;
    public const int nlattr_nla_len = 0;
    public const int nlattr_nla_type = 2;

    public const int sizeof_nlmsgerr = 20;
    public const int nlmsgerr_error = 0;
    public const int nlmsgerr_msg = 4;

    public const int sizeof_ifinfomsg = 16;
    public const int ifinfomsg_ifi_family = 0;
    public const int ifinfomsg_ifi_type = 2;
    public const int ifinfomsg_ifi_index = 4;
    public const int ifinfomsg_ifi_flags = 8;
    public const int ifinfomsg_ifi_change = 12;

    public const int sizeof_sockaddr_nl = 12;
    public const int sockaddr_nl_nl_family = 0;
    public const int sockaddr_nl_nl_pid = 4;
    public const int sockaddr_nl_nl_groups = 8;

    public const int sizeof_pollfd = 8;
    public const int pollfd_fd = 0;
    public const int pollfd_events = 4;
    public const int pollfd_revents = 6;
}
#pragma warning restore IDE1006
