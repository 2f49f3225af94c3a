// Message framing: lengths, alignment, and every way a header can lie about its size.
namespace Microseg.Netlink.Tests;

public class NetlinkMessageReaderTests
{
    [Fact]
    public void Captured_dump_is_eight_multipart_links_then_done()
    {
        var types = new List<ushort>();
        foreach (var message in new NetlinkMessageReader(Captured.LinksDump))
        {
            Assert.Equal(Captured.DumpSequence, message.Sequence);
            Assert.True(message.IsMultipart);
            Assert.False(message.IsDumpInterrupted);
            types.Add(message.Type);
        }
        Assert.Equal([.. Enumerable.Repeat(Uapi.RTM_NEWLINK, 8), Uapi.NLMSG_DONE], types);
    }

    [Fact]
    public void Messages_start_at_the_next_four_byte_boundary()
    {
        var buffer = Bytes.Concat(Bytes.Message(100, 0, 1, 0xAA), Bytes.Message(101, 2, 2, 1, 2, 3, 4, 5));
        Assert.Equal(20 + 24, buffer.Length);
        var reader = new NetlinkMessageReader(buffer);

        Assert.True(reader.MoveNext());
        Assert.Equal(100, reader.Current.Type);
        Assert.Equal([0xAA], reader.Current.Payload.ToArray());
        Assert.True(reader.MoveNext());
        Assert.Equal(101, reader.Current.Type);
        Assert.Equal(20, reader.Current.Offset);
        Assert.Equal([1, 2, 3, 4, 5], reader.Current.Payload.ToArray());
        Assert.True(reader.Current.IsMultipart);
        Assert.False(reader.MoveNext());
    }

    [Fact]
    public void A_last_message_without_its_padding_is_still_read()
    {
        var buffer = Bytes.Message(100, 0, 1, 0xAA)[..17];
        var reader = new NetlinkMessageReader(buffer);
        Assert.True(reader.MoveNext());
        Assert.Equal([0xAA], reader.Current.Payload.ToArray());
        Assert.False(reader.MoveNext());
    }

    [Fact]
    public void Empty_buffer_has_no_messages()
    {
        Assert.False(new NetlinkMessageReader([]).MoveNext());
    }

    [Fact]
    public void Truncated_header_is_rejected()
    {
        var buffer = Bytes.Concat(Bytes.Message(100, 0, 1), new byte[10]);
        var e = Assert.Throws<NetlinkFormatException>(() => Count(buffer));
        Assert.Equal("netlink message at offset 16: only 10 bytes left, a header needs 16", e.Message);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(15u)]
    public void Length_shorter_than_the_header_is_rejected(uint length)
    {
        var buffer = Bytes.Message(100, 0, 1, new byte[8]);
        BitConverter.TryWriteBytes(buffer.AsSpan(0), length);
        var e = Assert.Throws<NetlinkFormatException>(() => Count(buffer));
        Assert.Equal($"netlink message at offset 0: nlmsg_len {length} is shorter than its 16-byte header", e.Message);
    }

    [Theory]
    [InlineData(25u)]
    [InlineData(uint.MaxValue)]
    public void Length_past_the_end_is_rejected(uint length)
    {
        var buffer = Bytes.Message(100, 0, 1, new byte[8]);
        BitConverter.TryWriteBytes(buffer.AsSpan(0), length);
        var e = Assert.Throws<NetlinkFormatException>(() => Count(buffer));
        Assert.Equal($"netlink message at offset 0: nlmsg_len {length} runs past the end of the buffer (24 bytes left)", e.Message);
    }

    private static int Count(byte[] buffer)
    {
        int count = 0;
        foreach (var _ in new NetlinkMessageReader(buffer)) count++;
        return count;
    }
}
