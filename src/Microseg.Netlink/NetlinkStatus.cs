// The outcome carried by NLMSG_ERROR (0 = ack) and NLMSG_DONE (0 = dump complete), with the
// extended ack the kernel attaches when NETLINK_EXT_ACK is on.
using System.Runtime.InteropServices;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

/// <param name="Errno">0 for success, otherwise the positive errno.</param>
/// <param name="KernelMessage">NLMSGERR_ATTR_MSG, the kernel's own words on the error.</param>
/// <param name="AttributeOffset">NLMSGERR_ATTR_OFFS: the offending attribute's offset in our request.</param>
public readonly record struct NetlinkStatus(int Errno, string? KernelMessage, uint? AttributeOffset)
{
    /// <summary>Reads the status of an NLMSG_ERROR or NLMSG_DONE message.</summary>
    public static NetlinkStatus Read(NetlinkMessage message)
    {
        var payload = message.Payload;
        switch (message.Type)
        {
            case NLMSG_ERROR:
                if (payload.Length < Layout.sizeof_nlmsgerr)
                    throw new NetlinkFormatException(
                        $"NLMSG_ERROR at offset {message.Offset}: payload is {payload.Length} bytes, struct nlmsgerr needs {Layout.sizeof_nlmsgerr}");
                int echoed = Layout.sizeof_nlmsgerr;
                if ((message.Flags & NLM_F_CAPPED) == 0)
                {
                    // Uncapped errors echo our whole request after the error code.
                    uint requestLength = MemoryMarshal.Read<uint>(payload[(Layout.nlmsgerr_msg + Layout.nlmsghdr_nlmsg_len)..]);
                    if (requestLength < NLMSG_HDRLEN || requestLength > payload.Length - Layout.nlmsgerr_msg)
                        throw new NetlinkFormatException(
                            $"NLMSG_ERROR at offset {message.Offset}: echoed request length {requestLength} does not fit its {payload.Length}-byte payload");
                    echoed = Layout.nlmsgerr_msg + (int)requestLength;
                }
                return FromCode(message, payload, Math.Min(NetlinkMessageReader.Align(echoed), payload.Length));
            case NLMSG_DONE:
                // NLMSG_DONE carries an int error, then extended-ack attributes if flagged.
                if (payload.Length == 0) return default;
                if (payload.Length < sizeof(int))
                    throw new NetlinkFormatException(
                        $"NLMSG_DONE at offset {message.Offset}: payload is {payload.Length} bytes, too short for its error code");
                return FromCode(message, payload, sizeof(int));
            default:
                throw new ArgumentException($"message type {message.Type} is neither NLMSG_ERROR nor NLMSG_DONE", nameof(message));
        }
    }

    private static NetlinkStatus FromCode(NetlinkMessage message, ReadOnlySpan<byte> payload, int attributesAt)
    {
        int code = MemoryMarshal.Read<int>(payload);
        if (code > 0 || code == int.MinValue)
            throw new NetlinkFormatException(
                $"{(message.Type == NLMSG_DONE ? "NLMSG_DONE" : "NLMSG_ERROR")} at offset {message.Offset}: error code {code} is not 0 or -errno");
        string? text = null;
        uint? offset = null;
        if ((message.Flags & NLM_F_ACK_TLVS) != 0)
        {
            foreach (var attribute in new NetlinkAttributeReader(payload[attributesAt..]))
            {
                if (attribute.Type == NLMSGERR_ATTR_MSG) text = attribute.GetString();
                else if (attribute.Type == NLMSGERR_ATTR_OFFS) offset = attribute.GetUInt32();
            }
        }
        return new NetlinkStatus(-code, text, offset);
    }
}
