// Attribute framing: alignment, nesting, the flag bits in nla_type, and malformed lengths.
namespace Microseg.Netlink.Tests;

public class NetlinkAttributeReaderTests
{
    [Fact]
    public void Attributes_start_at_the_next_four_byte_boundary()
    {
        var buffer = Bytes.Concat(Bytes.Attribute(1, 7), Bytes.Attribute(2, 1, 2, 3, 4, 5), Bytes.Attribute(3));
        var types = new List<ushort>();
        var payloads = new List<byte[]>();
        foreach (var attribute in new NetlinkAttributeReader(buffer))
        {
            types.Add(attribute.Type);
            payloads.Add(attribute.Payload.ToArray());
        }
        Assert.Equal([1, 2, 3], types);
        Assert.Equal([[7], [1, 2, 3, 4, 5], []], payloads);
    }

    [Fact]
    public void Nested_and_byte_order_bits_are_masked_off_the_type()
    {
        var inner = Bytes.Concat(Bytes.Attribute(5, Bytes.U32(42)), Bytes.Attribute(6 | Uapi.NLA_F_NET_BYTEORDER, 0x12, 0xB5));
        var buffer = Bytes.Attribute(18 | Uapi.NLA_F_NESTED, inner);

        var outer = new NetlinkAttributeReader(buffer);
        Assert.True(outer.MoveNext());
        Assert.Equal(18, outer.Current.Type);
        Assert.True(outer.Current.IsNested);
        var nested = outer.Current.GetNested();
        Assert.True(nested.MoveNext());
        Assert.Equal(5, nested.Current.Type);
        Assert.False(nested.Current.IsNested);
        Assert.Equal(42u, nested.Current.GetUInt32());
        Assert.True(nested.MoveNext());
        Assert.Equal(6, nested.Current.Type);
        Assert.Equal(4789, nested.Current.GetUInt16BigEndian());
        Assert.False(nested.MoveNext());
        Assert.False(outer.MoveNext());
    }

    [Fact]
    public void Strings_end_at_the_first_nul_or_the_payload()
    {
        var buffer = Bytes.Concat(Bytes.Attribute(3, "br0\0junk"u8.ToArray()), Bytes.Attribute(3, "eth1"u8.ToArray()));
        var names = new List<string>();
        foreach (var attribute in new NetlinkAttributeReader(buffer)) names.Add(attribute.GetString());
        Assert.Equal(["br0", "eth1"], names);
    }

    [Fact]
    public void Fixed_size_reads_check_the_payload_size()
    {
        var twoBytes = Bytes.Attribute(1, 0, 0);
        var e = Assert.Throws<NetlinkFormatException>(() => First(twoBytes).GetUInt32());
        Assert.Equal("attribute type 1 at offset 0: payload is 2 bytes, expected 4", e.Message);
        var fourBytes = Bytes.Attribute(4, 1, 2, 3, 4);
        Assert.Throws<NetlinkFormatException>(() => First(fourBytes).GetByte());
        Assert.Throws<NetlinkFormatException>(() => First(fourBytes).GetUInt16());
        Assert.Equal(0x04030201u, First(fourBytes).GetUInt32());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Length_shorter_than_the_header_is_rejected(ushort length)
    {
        var buffer = Bytes.Concat(Bytes.Attribute(1, 1, 2, 3, 4), Bytes.Attribute(2, 1, 2, 3, 4));
        BitConverter.TryWriteBytes(buffer.AsSpan(8), length);
        var e = Assert.Throws<NetlinkFormatException>(() => Count(buffer));
        Assert.Equal($"attribute at offset 8: nla_len {length} is shorter than its 4-byte header", e.Message);
    }

    [Fact]
    public void Length_past_the_end_is_rejected()
    {
        var buffer = Bytes.Attribute(2 | Uapi.NLA_F_NESTED, 1, 2, 3, 4);
        BitConverter.TryWriteBytes(buffer.AsSpan(0), (ushort)9);
        var e = Assert.Throws<NetlinkFormatException>(() => Count(buffer));
        Assert.Equal("attribute type 2 at offset 0: nla_len 9 runs past the end of its container (8 bytes left)", e.Message);
    }

    [Fact]
    public void Trailing_bytes_too_short_for_a_header_are_rejected()
    {
        var buffer = Bytes.Concat(Bytes.Attribute(1, 1, 2, 3, 4), [0, 0]);
        var e = Assert.Throws<NetlinkFormatException>(() => Count(buffer));
        Assert.Equal("attribute at offset 8: only 2 bytes left, a header needs 4", e.Message);
    }

    [Fact]
    public void A_last_attribute_without_its_padding_is_still_read()
    {
        var buffer = Bytes.Attribute(1, 0xAB)[..5];
        Assert.Equal(1, Count(buffer));
    }

    private static NetlinkAttribute First(byte[] buffer)
    {
        var reader = new NetlinkAttributeReader(buffer);
        Assert.True(reader.MoveNext());
        return reader.Current;
    }

    private static int Count(byte[] buffer)
    {
        int count = 0;
        foreach (var _ in new NetlinkAttributeReader(buffer)) count++;
        return count;
    }
}
