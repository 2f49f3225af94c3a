// The options that name a service (--proto, --dport) and a group's switches (--stateful,
// --infra, --audit), read once for every command that takes them: a bad value is a usage error
// naming the option, in the words the file and the API use for the same mistake.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli;

internal sealed class ServiceOptions
{
    public Option<string?> Proto { get; }
    public Option<string?> Dport { get; }
    private readonly bool range;

    /// <param name="range">true: --dport takes a range (a rule); false: one port (a packet).</param>
    public ServiceOptions(string protoDescription, string dportDescription, bool range)
    {
        this.range = range;
        Proto = new Option<string?>("--proto") { Description = protoDescription };
        Proto.CompletionSources.Add("tcp", "udp", "sctp", "icmp", "icmpv6");
        Proto.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !Service.TryParseProto(r.Tokens[^1].Value, out _, out var problem)) r.AddError($"--proto: {problem}");
        });
        Dport = new Option<string?>("--dport") { Description = dportDescription };
        Dport.Validators.Add(r =>
        {
            if (r.Tokens.Count == 0) return;
            var text = r.Tokens[^1].Value;
            if (!PortRange.TryParse(text, out var ports, out var problem)) r.AddError($"--dport: {problem}");
            else if (!this.range && ports.Lo != ports.Hi) r.AddError($"--dport: give one port, not a range (got '{Text.Clip(text)}')");
        });
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Proto);
        command.Options.Add(Dport);
        command.Validators.Add(r =>
        {
            var proto = r.GetValue(Proto);
            if (r.GetValue(Dport) is null) return;
            if (proto is null) r.AddError("--dport needs --proto tcp, udp or sctp");
            else if (Service.TryParseProto(proto, out var number, out _) && !Service.HasPorts(number))
                r.AddError($"--dport needs --proto tcp, udp or sctp ({Service.ProtoName(number)} packets have no port)");
        });
    }

    /// <summary>The rule's service, or null when --proto is not given (validated already).</summary>
    public Service? ServiceOf(ParseResult parse) =>
        parse.GetValue(Proto) is { } proto ? ConfigEdits.ParseService(proto, parse.GetValue(Dport)) : null;

    /// <summary>The packet asked about, or null when --proto is not given. Without --dport the
    /// packet has no port (as a fragment after the first).</summary>
    public Packet? PacketOf(ParseResult parse)
    {
        if (ServiceOf(parse) is not { } service) return null;
        return new Packet(service.Proto, service.Ports?.Lo);
    }
}

/// <summary>--stateful, --infra and --audit: Proxmox booleans (0|1; on|off, yes|no and
/// true|false are read too).</summary>
internal sealed class SwitchOptions
{
    public Option<string?> Stateful { get; } = Flag("--stateful", "1: replies to flows a NIC of the group opened pass (the default); 0: stateless, every packet needs a rule");
    public Option<string?> Infra { get; } = Flag("--infra", "1: ARP, neighbour discovery and DHCP pass (the default); 0: they need rules too");
    public Option<string?> Audit { get; } = Flag("--audit", "1: record the verdicts of the group's NICs; 0: do not (the default)");

    private static Option<string?> Flag(string name, string description)
    {
        var option = new Option<string?>(name) { Description = description + "; unset: inherited from the parent" };
        option.CompletionSources.Add("0", "1");
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !SectionConfig.TryParseFlag(r.Tokens[^1].Value, out _))
                r.AddError($"{name} must be 0 or 1 (got '{Text.Clip(r.Tokens[^1].Value)}')");
        });
        return option;
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Stateful);
        command.Options.Add(Infra);
        command.Options.Add(Audit);
    }

    public SwitchSettings? SettingsOf(ParseResult parse)
    {
        bool? Read(Option<string?> o) => parse.GetValue(o) is { } text && SectionConfig.TryParseFlag(text, out var on) ? on : null;
        var settings = new SwitchSettings(Read(Stateful), Read(Infra), Read(Audit));
        return settings == new SwitchSettings() ? null : settings;
    }
}
