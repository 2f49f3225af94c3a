// The RTM_GETLINK requests we send, as bytes: nlmsghdr, ifinfomsg, attributes.
using System.Runtime.InteropServices;
using System.Text;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

internal static class LinkRequests
{
    /// <summary>Every link in the socket's namespace, in as many datagrams as it takes.</summary>
    public static byte[] Dump(uint sequence) => Build(sequence, NLM_F_REQUEST | NLM_F_DUMP, ifIndex: 0, name: null);

    /// <summary>One link, by ifindex or (with ifindex 0) by name.</summary>
    public static byte[] Get(uint sequence, int ifIndex, string? name) => Build(sequence, NLM_F_REQUEST, ifIndex, name);

    private static byte[] Build(uint sequence, ushort flags, int ifIndex, string? name)
    {
        int nameBytes = name is null ? 0 : Encoding.UTF8.GetByteCount(name) + 1;
        int length = NLMSG_HDRLEN + Layout.sizeof_ifinfomsg
            + NLA_HDRLEN + sizeof(uint)
            + (name is null ? 0 : NetlinkMessageReader.Align(NLA_HDRLEN + nameBytes));
        var request = new byte[length];
        var span = request.AsSpan();
        MemoryMarshal.Write(span[Layout.nlmsghdr_nlmsg_len..], (uint)length);
        MemoryMarshal.Write(span[Layout.nlmsghdr_nlmsg_type..], RTM_GETLINK);
        MemoryMarshal.Write(span[Layout.nlmsghdr_nlmsg_flags..], flags);
        MemoryMarshal.Write(span[Layout.nlmsghdr_nlmsg_seq..], sequence);
        var ifinfo = span[NLMSG_HDRLEN..];
        ifinfo[Layout.ifinfomsg_ifi_family] = AF_UNSPEC;
        MemoryMarshal.Write(ifinfo[Layout.ifinfomsg_ifi_index..], ifIndex);
        var attributes = ifinfo[Layout.sizeof_ifinfomsg..];
        // Statistics are most of each reply and we never read them.
        int at = WriteAttribute(attributes, IFLA_EXT_MASK, BitConverter.GetBytes(RTEXT_FILTER_SKIP_STATS));
        if (name is not null)
        {
            var terminated = new byte[nameBytes];
            Encoding.UTF8.GetBytes(name, terminated);
            WriteAttribute(attributes[at..], IFLA_IFNAME, terminated);
        }
        return request;
    }

    private static int WriteAttribute(Span<byte> into, ushort type, ReadOnlySpan<byte> payload)
    {
        MemoryMarshal.Write(into[Layout.nlattr_nla_len..], (ushort)(NLA_HDRLEN + payload.Length));
        MemoryMarshal.Write(into[Layout.nlattr_nla_type..], type);
        payload.CopyTo(into[NLA_HDRLEN..]);
        return NetlinkMessageReader.Align(NLA_HDRLEN + payload.Length);
    }
}
