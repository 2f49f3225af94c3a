// What a rule may say about L4: a protocol and, for protocols with ports, a destination port
// range. Parsed from and written to one text form everywhere (file, snapshot, CLI, API, ids).
using System.Globalization;

namespace Microseg.Policy;

/// <summary>A destination port range, both ends included: "443" or "8000-8080".</summary>
public readonly record struct PortRange(ushort Lo, ushort Hi)
{
    public const int MinPort = 1, MaxPort = 65535;

    public bool Contains(ushort port) => port >= Lo && port <= Hi;

    /// <summary>"443" (one port) or "8000-8080".</summary>
    public override string ToString() =>
        Lo == Hi ? Lo.ToString(CultureInfo.InvariantCulture) : $"{Lo.ToString(CultureInfo.InvariantCulture)}-{Hi.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Why this range cannot stand in a rule, or null.</summary>
    public string? Problem() =>
        Lo < MinPort ? $"port {Lo} is out of range {MinPort}..{MaxPort}"
        : Lo > Hi ? $"port range {Lo}-{Hi} is reversed (write {Hi}-{Lo})"
        : null;

    /// <summary>Parses "443" or "8000-8080"; the message names what is wrong (out of range,
    /// reversed, empty end, not a number).</summary>
    public static bool TryParse(string text, out PortRange range, out string? problem)
    {
        range = default;
        problem = null;
        var dash = text.IndexOf('-');
        var loText = dash < 0 ? text : text[..dash];
        var hiText = dash < 0 ? text : text[(dash + 1)..];
        if (loText.Length == 0 || hiText.Length == 0)
        {
            problem = $"port range '{Text.Clip(text)}' is empty at one end (write '443' or '8000-8080')";
            return false;
        }
        if (!TryPort(loText, out var lo, out problem) || !TryPort(hiText, out var hi, out problem)) return false;
        range = new PortRange(lo, hi);
        problem = range.Problem();
        return problem is null;
    }

    private static bool TryPort(string text, out ushort port, out string? problem)
    {
        port = 0;
        problem = null;
        if (!text.All(char.IsAsciiDigit))
        {
            problem = $"port '{Text.Clip(text)}' is not a number (write '443' or '8000-8080')";
            return false;
        }
        if (text.Length > 5 || int.Parse(text, CultureInfo.InvariantCulture) is var n && n is < MinPort or > MaxPort)
        {
            problem = $"port {Text.Clip(text)} is out of range {MinPort}..{MaxPort}";
            return false;
        }
        port = (ushort)n;
        return true;
    }
}

/// <summary>The L4 match of a rule: an IP protocol number and, for tcp, udp and sctp only,
/// a destination port range (null: every port, and packets without one).</summary>
public sealed record Service(byte Proto, PortRange? Ports = null)
{
    public const byte Icmp = 1, Tcp = 6, Udp = 17, Icmpv6 = 58, Sctp = 132;

    private static readonly (string Name, byte Number)[] Named =
        [("tcp", Tcp), ("udp", Udp), ("sctp", Sctp), ("icmp", Icmp), ("icmpv6", Icmpv6)];

    /// <summary>The protocols whose packets carry a destination port.</summary>
    public static bool HasPorts(byte proto) => proto is Tcp or Udp or Sctp;

    /// <summary>0 with ports, 1 with a protocol only; a rule without a service is 2 (see
    /// <see cref="SpecificityOf"/>). Smaller is more specific and wins within a group pair.</summary>
    public int Specificity => Ports is null ? 1 : 0;

    public const int NoServiceSpecificity = 2;

    public static int SpecificityOf(Service? service) => service?.Specificity ?? NoServiceSpecificity;

    /// <summary>Whether a packet of this protocol (and port, when it has one) matches.</summary>
    public bool Matches(Packet packet) =>
        packet.Proto == Proto && (Ports is not { } range || packet.Port is { } port && range.Contains(port));

    /// <summary>"tcp", "udp", ... for the named protocols; the number for the others.</summary>
    public static string ProtoName(byte proto)
    {
        foreach (var (name, number) in Named)
            if (number == proto) return name;
        return proto.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Accepts a protocol name (tcp, udp, sctp, icmp, icmpv6) or a number 0..255.</summary>
    public static bool TryParseProto(string text, out byte proto, out string? problem)
    {
        problem = null;
        foreach (var (name, number) in Named)
            if (name == text) { proto = number; return true; }
        proto = 0;
        if (text.Length > 0 && text.All(char.IsAsciiDigit))
        {
            if (text.Length <= 3 && int.Parse(text, CultureInfo.InvariantCulture) is var n and <= 255) { proto = (byte)n; return true; }
            problem = $"protocol number {Text.Clip(text)} is out of range 0..255";
            return false;
        }
        problem = $"unknown protocol '{Text.Clip(text)}' (use tcp, udp, sctp, icmp, icmpv6 or a protocol number 0..255)";
        return false;
    }

    /// <summary>Why this service cannot stand in a rule (ports on a protocol without ports, a
    /// bad range), with the field it is about, or null.</summary>
    public (string Field, string Message)? Problem() =>
        Ports is not { } range ? null
        : !HasPorts(Proto) ? ("dport", $"dport needs a protocol with ports (tcp, udp or sctp), not {ProtoName(Proto)}")
        : range.Problem() is { } p ? ("dport", p)
        : null;

    /// <summary>The problems of a service given as text (proto, dport), each naming its field;
    /// the service when there are none (null when neither is given).</summary>
    public static (Service? Service, IReadOnlyList<(string Field, string Message)> Problems) Parse(string? proto, string? dport)
    {
        var problems = new List<(string, string)>();
        if (proto is null)
        {
            if (dport is not null) problems.Add(("dport", "dport needs a protocol with ports: give proto tcp, udp or sctp"));
            return (null, problems);
        }
        if (!TryParseProto(proto, out var number, out var protoProblem)) problems.Add(("proto", protoProblem!));
        PortRange? ports = null;
        if (dport is not null)
        {
            if (PortRange.TryParse(dport, out var range, out var portProblem)) ports = range;
            else problems.Add(("dport", portProblem!));
        }
        if (problems.Count > 0) return (null, problems);
        var service = new Service(number, ports);
        if (service.Problem() is { } p) problems.Add(p);
        return problems.Count > 0 ? (null, problems) : (service, problems);
    }

    /// <summary>As an id and a message write it: "tcp5432", "udp8000-8080", "icmp", "47".</summary>
    public string IdPart => ProtoName(Proto) + (Ports?.ToString() ?? "");

    /// <summary>As people read it: "tcp/5432", "udp/8000-8080", "icmp".</summary>
    public override string ToString() => ProtoName(Proto) + (Ports is { } r ? "/" + r : "");
}

/// <summary>One packet's L4 view: the IP protocol and the destination port. Port null = the
/// packet has none (not tcp, udp or sctp, or a fragment after the first).</summary>
public readonly record struct Packet(byte Proto, ushort? Port = null)
{
    public override string ToString() => Service.ProtoName(Proto) + (Port is { } p ? "/" + p.ToString(CultureInfo.InvariantCulture) : "");
}
