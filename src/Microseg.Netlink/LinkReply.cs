// Folds the datagrams that answer one RTM_GETLINK request into links, and says when the
// answer is over: NLMSG_DONE ends a dump, NLMSG_ERROR ends anything, a lone RTM_NEWLINK
// without NLM_F_MULTI is the whole answer to a single get.
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

internal sealed class LinkReply(uint sequence)
{
    private readonly List<LinkInfo> links = [];

    public IReadOnlyList<LinkInfo> Links => links;

    public bool IsComplete { get; private set; }

    /// <summary>Some message carried NLM_F_DUMP_INTR: the links may be inconsistent, ask again.</summary>
    public bool Interrupted { get; private set; }

    /// <summary>The kernel's verdict once complete; Errno 0 is success.</summary>
    public NetlinkStatus Status { get; private set; }

    public void Accept(ReadOnlySpan<byte> datagram)
    {
        foreach (var message in new NetlinkMessageReader(datagram))
        {
            // A reply to an earlier request someone gave up on is not ours to read.
            if (IsComplete || message.Sequence != sequence) continue;
            if (message.IsDumpInterrupted) Interrupted = true;
            switch (message.Type)
            {
                case NLMSG_ERROR:
                case NLMSG_DONE:
                    Status = NetlinkStatus.Read(message);
                    IsComplete = true;
                    break;
                case RTM_NEWLINK:
                    links.Add(LinkMessageParser.Parse(message));
                    if (!message.IsMultipart) IsComplete = true;
                    break;
            }
        }
    }
}
