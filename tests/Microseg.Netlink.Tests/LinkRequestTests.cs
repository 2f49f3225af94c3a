// The request bytes we send, read back with our own reader.
namespace Microseg.Netlink.Tests;

public class LinkRequestTests
{
    [Fact]
    public void Dump_asks_for_every_link_without_statistics()
    {
        var request = LinkRequests.Dump(5);
        Assert.Equal(16 + 16 + 8, request.Length);
        var message = Single(request);
        Assert.Equal(Uapi.RTM_GETLINK, message.Type);
        Assert.Equal(Uapi.NLM_F_REQUEST | Uapi.NLM_F_DUMP, message.Flags);
        Assert.Equal(5u, message.Sequence);
        Assert.Equal(new byte[16], message.Payload[..16].ToArray());
        Assert.Equal([(Uapi.IFLA_EXT_MASK, Uapi.RTEXT_FILTER_SKIP_STATS.ToString())], Attributes(message.Payload[16..]));
    }

    [Fact]
    public void Get_by_name_sends_a_terminated_padded_IFLA_IFNAME()
    {
        var request = LinkRequests.Get(6, 0, "vx0");
        Assert.Equal(16 + 16 + 8 + 8, request.Length);
        var message = Single(request);
        Assert.Equal(Uapi.NLM_F_REQUEST, message.Flags);
        Assert.Equal(0, BitConverter.ToInt32(message.Payload[4..8]));
        Assert.Equal(
            [(Uapi.IFLA_EXT_MASK, Uapi.RTEXT_FILTER_SKIP_STATS.ToString()), (Uapi.IFLA_IFNAME, "vx0")],
            Attributes(message.Payload[16..]));
    }

    [Fact]
    public void Get_by_index_puts_it_in_ifinfomsg()
    {
        var message = Single(LinkRequests.Get(7, 42, null));
        Assert.Equal(42, BitConverter.ToInt32(message.Payload[4..8]));
        Assert.Single(Attributes(message.Payload[16..]));
    }

    private static NetlinkMessage Single(byte[] request)
    {
        var reader = new NetlinkMessageReader(request);
        Assert.True(reader.MoveNext());
        var message = reader.Current;
        Assert.False(reader.MoveNext());
        return message;
    }

    private static List<(ushort, string)> Attributes(ReadOnlySpan<byte> buffer)
    {
        var list = new List<(ushort, string)>();
        foreach (var attribute in new NetlinkAttributeReader(buffer))
            list.Add((attribute.Type, attribute.Type == Uapi.IFLA_IFNAME ? attribute.GetString() : attribute.GetUInt32().ToString()));
        return list;
    }
}
