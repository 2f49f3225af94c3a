// Splits a buffer of netlink messages (one or more datagrams back to back) into messages.
// Every length is checked against the bytes that are really there before it is used.
using System.Runtime.InteropServices;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

/// <summary>One netlink message: the 16-byte nlmsghdr and the payload it covers.</summary>
public readonly ref struct NetlinkMessage
{
    internal NetlinkMessage(ushort type, ushort flags, uint sequence, uint portId, ReadOnlySpan<byte> payload, int offset)
    {
        Type = type;
        Flags = flags;
        Sequence = sequence;
        PortId = portId;
        Payload = payload;
        Offset = offset;
    }

    /// <summary>nlmsg_type: NLMSG_ERROR (2), NLMSG_DONE (3), RTM_NEWLINK (16), ...</summary>
    public ushort Type { get; }

    /// <summary>nlmsg_flags (NLM_F_MULTI, NLM_F_DUMP_INTR, NLM_F_ACK_TLVS, ...).</summary>
    public ushort Flags { get; }

    public uint Sequence { get; }

    /// <summary>nlmsg_pid: the port the message is addressed to (ours, in replies).</summary>
    public uint PortId { get; }

    /// <summary>The bytes after the header, up to nlmsg_len (alignment padding excluded).</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>Where the header starts in the buffer the reader was given.</summary>
    public int Offset { get; }

    /// <summary>Part of a multi-part (dump) reply that ends with NLMSG_DONE.</summary>
    public bool IsMultipart => (Flags & NLM_F_MULTI) != 0;

    /// <summary>The kernel saw the table change during the dump: the whole dump must be redone.</summary>
    public bool IsDumpInterrupted => (Flags & NLM_F_DUMP_INTR) != 0;
}

/// <summary>Enumerates the messages in a buffer; use with <c>foreach</c>.</summary>
/// <exception cref="NetlinkFormatException">a header is cut short or claims bytes that are not there.</exception>
public ref struct NetlinkMessageReader
{
    private readonly ReadOnlySpan<byte> buffer;
    private int offset;
    private NetlinkMessage current;

    public NetlinkMessageReader(ReadOnlySpan<byte> buffer)
    {
        this.buffer = buffer;
    }

    public readonly NetlinkMessageReader GetEnumerator() => this;

    public readonly NetlinkMessage Current => current;

    public bool MoveNext()
    {
        int remaining = buffer.Length - offset;
        if (remaining == 0) return false;
        if (remaining < NLMSG_HDRLEN)
            throw new NetlinkFormatException(
                $"netlink message at offset {offset}: only {remaining} bytes left, a header needs {NLMSG_HDRLEN}");
        var header = buffer.Slice(offset, NLMSG_HDRLEN);
        uint length = MemoryMarshal.Read<uint>(header[Layout.nlmsghdr_nlmsg_len..]);
        if (length < NLMSG_HDRLEN)
            throw new NetlinkFormatException(
                $"netlink message at offset {offset}: nlmsg_len {length} is shorter than its {NLMSG_HDRLEN}-byte header");
        if (length > remaining)
            throw new NetlinkFormatException(
                $"netlink message at offset {offset}: nlmsg_len {length} runs past the end of the buffer ({remaining} bytes left)");
        current = new NetlinkMessage(
            MemoryMarshal.Read<ushort>(header[Layout.nlmsghdr_nlmsg_type..]),
            MemoryMarshal.Read<ushort>(header[Layout.nlmsghdr_nlmsg_flags..]),
            MemoryMarshal.Read<uint>(header[Layout.nlmsghdr_nlmsg_seq..]),
            MemoryMarshal.Read<uint>(header[Layout.nlmsghdr_nlmsg_pid..]),
            buffer.Slice(offset + NLMSG_HDRLEN, (int)length - NLMSG_HDRLEN),
            offset);
        // The padding after the last message of a datagram may be missing: clamp, never overrun.
        offset += Math.Min(Align((int)length), remaining);
        return true;
    }

    internal static int Align(int length) => (length + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);
}
