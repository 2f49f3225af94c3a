// One verdict of the policy programs as the monitor reports it: the kernel's monitor_event with
// its marks, slot and ifindex turned into names, its addresses into text and its monotonic
// timestamp into wall-clock time.
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Observe;

/// <summary>A verdict event. Verdict: "drop" | "allow" | "audit". Reason: the deciding rule's id |
/// "default-deny" | "reply" | "infra" | "unreadable". Src/Dst: the addresses as text (null for a
/// packet that is not IP); Proto: "tcp" | "udp" | "icmp" | ... | the number (null when not IP);
/// Sport/Dport only for protocols with ports. SrcGroup is null for an untagged source.</summary>
public sealed record VerdictEvent(DateTimeOffset Time, string Nic, string? SrcGroup, string DstGroup,
    string? Src, string? Dst, string? Proto, int? Sport, int? Dport, string Verdict, string Reason, uint Length)
{
    public const string Drop = "drop", Allow = "allow", Audit = "audit";
    public const string DefaultDeny = "default-deny", Reply = "reply", Infra = "infra", Unreadable = "unreadable";

    /// <summary>The names given to what the host cannot name any more (a group or rule removed
    /// since the packet, a NIC gone): "mark:N", "slot:N", "if:N".</summary>
    internal static string UnknownGroup(ushort mark) => $"mark:{mark}";
    internal static string UnknownRule(uint slot) => $"slot:{slot}";
    internal static string UnknownNic(uint ifindex) => $"if:{ifindex}";

    /// <summary>Decodes one record of the events ring.</summary>
    internal static VerdictEvent From(in MonitorEvent e, IVerdictNames names, KernelClock.MonotonicToWall clock)
    {
        bool ip = e.Family != 0;
        bool ports = ip && Service.HasPorts(e.Proto);
        string verdict = e.Verdict switch
        {
            PolicyAbi.MonVerdictDrop => Drop,
            PolicyAbi.MonVerdictAllow => Allow,
            PolicyAbi.MonVerdictAudit => Audit,
            var v => $"verdict:{v}",
        };
        string reason = e.Reason switch
        {
            PolicyAbi.MonReasonRule => names.Rule(e.Slot) ?? UnknownRule(e.Slot),
            PolicyAbi.MonReasonDefaultDeny => DefaultDeny,
            PolicyAbi.MonReasonReply => Reply,
            PolicyAbi.MonReasonInfra => Infra,
            PolicyAbi.MonReasonUnreadable => Unreadable,
            var r => $"reason:{r}",
        };
        return new VerdictEvent(
            clock.Convert(e.TimeNs),
            names.Nic((int)e.IfIndex) ?? UnknownNic(e.IfIndex),
            e.Src == 0 ? null : names.Group(e.Src) ?? UnknownGroup(e.Src),
            names.Group(e.Dst) ?? UnknownGroup(e.Dst),
            ip ? e.Source?.ToString() : null,
            ip ? e.Destination?.ToString() : null,
            ip ? Service.ProtoName(e.Proto) : null,
            ports ? e.SourcePort : null,
            ports ? e.DestinationPort : null,
            verdict, reason, e.Len);
    }
}
