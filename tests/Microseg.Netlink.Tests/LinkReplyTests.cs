// How the datagrams of one reply are folded: completion, stray sequences, interrupted dumps,
// and error replies that echo the request.
namespace Microseg.Netlink.Tests;

public class LinkReplyTests
{
    [Fact]
    public void A_dump_is_complete_only_at_NLMSG_DONE()
    {
        var reply = new LinkReply(Captured.DumpSequence);
        foreach (var message in Split(Captured.LinksDump))
        {
            Assert.False(reply.IsComplete);
            reply.Accept(message);
        }
        Assert.True(reply.IsComplete);
        Assert.False(reply.Interrupted);
        Assert.Equal(0, reply.Status.Errno);
        Assert.Equal(8, reply.Links.Count);
    }

    [Fact]
    public void NLM_F_DUMP_INTR_on_any_message_marks_the_dump_interrupted()
    {
        var dump = Captured.LinksDump;
        var messages = Split(dump);
        int third = messages.Take(2).Sum(m => m.Length);
        dump[third + 6] |= (byte)Uapi.NLM_F_DUMP_INTR;

        var reply = new LinkReply(Captured.DumpSequence);
        reply.Accept(dump);
        Assert.True(reply.IsComplete);
        Assert.True(reply.Interrupted);
    }

    [Fact]
    public void Messages_of_another_sequence_are_not_ours()
    {
        var reply = new LinkReply(Captured.DumpSequence + 100);
        reply.Accept(Captured.LinksDump);
        Assert.False(reply.IsComplete);
        Assert.Empty(reply.Links);
    }

    [Fact]
    public void An_uncapped_error_skips_the_echoed_request_to_find_the_extended_ack()
    {
        var request = LinkRequests.Get(7, 0, "eth0");
        var payload = Bytes.Concat(BitConverter.GetBytes(-1), request, Bytes.Attribute(Uapi.NLMSGERR_ATTR_OFFS, Bytes.U32(36)),
            Bytes.Attribute(Uapi.NLMSGERR_ATTR_MSG, "nope\0"u8.ToArray()));
        var reply = new LinkReply(7);
        reply.Accept(Bytes.Message(Uapi.NLMSG_ERROR, Uapi.NLM_F_ACK_TLVS, 7, payload));
        Assert.True(reply.IsComplete);
        Assert.Equal(new NetlinkStatus(1, "nope", 36), reply.Status);
    }

    [Fact]
    public void An_error_whose_echo_claims_more_than_it_carries_is_rejected()
    {
        var payload = Bytes.Concat(BitConverter.GetBytes(-1), Bytes.Message(18, 1, 7, new byte[16]));
        BitConverter.TryWriteBytes(payload.AsSpan(4), 400u);
        var reply = new LinkReply(7);
        var e = Assert.Throws<NetlinkFormatException>(() => reply.Accept(Bytes.Message(Uapi.NLMSG_ERROR, 0, 7, payload)));
        Assert.Equal("NLMSG_ERROR at offset 0: echoed request length 400 does not fit its 36-byte payload", e.Message);
    }

    [Fact]
    public void An_ack_completes_a_request_without_links()
    {
        var payload = Bytes.Concat(BitConverter.GetBytes(0), Bytes.Message(18, 1, 7));
        var reply = new LinkReply(7);
        reply.Accept(Bytes.Message(Uapi.NLMSG_ERROR, Uapi.NLM_F_CAPPED, 7, payload));
        Assert.True(reply.IsComplete);
        Assert.Equal(default, reply.Status);
    }

    private static List<byte[]> Split(byte[] buffer)
    {
        var parts = new List<byte[]>();
        foreach (var message in new NetlinkMessageReader(buffer))
            parts.Add(buffer[message.Offset..Math.Min(buffer.Length, message.Offset + ((16 + message.Payload.Length + 3) & ~3))]);
        return parts;
    }
}
