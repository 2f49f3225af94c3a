// `microseg rule add|set|del|list`. Rule ids are derived: p{src_mark}-{dst_mark}, then
// -{proto}{dport} for a rule with a service (p10-20-tcp5432).
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class RuleCommand : Command
{
    public RuleCommand(Io io) : base("rule", "Edit the rules of the pending config")
    {
        Subcommands.Add(Add(io));
        Subcommands.Add(Set(io));
        Subcommands.Add(new DeleteCommand(io, ObjectType.Rule));
        Subcommands.Add(new ListCommand(io, ObjectType.Rule, ["ID", "SRC", "DST", "SERVICE", "ACTION", "COMMENT"], o =>
        {
            var r = (Rule)o;
            return [r.Id, r.Src ?? Names.Untagged, r.Dst, r.Service?.ToString() ?? "any", Output.Json.Word(r.Action), r.Comment];
        }));
    }

    private static Option<string> ActionOption(bool required)
    {
        return new Option<string>("--action") { Description = "allow or deny", Required = required }.OneOf("allow", "deny");
    }

    private static Command Add(Io io)
    {
        var cmd = new Command("add", "Add a rule (src absent or 'untagged' = traffic without a group); with --proto it matches only that protocol, with --dport only those ports");
        var src = new Option<string?>("--src") { Description = "Source group, or 'untagged' (the default)" };
        var dst = new Option<string>("--dst") { Description = "Destination group", Required = true };
        var service = new ServiceOptions(
            "Match only this protocol: tcp, udp, sctp, icmp, icmpv6 or a protocol number 0..255 (default: every packet)",
            "With --proto tcp, udp or sctp: match only these destination ports, '443' or '8000-8080'", range: true);
        var action = ActionOption(required: true);
        var comment = new Option<string?>("--comment") { Description = "Free text, one line" };
        var digest = PendingEdit.DigestOption();
        cmd.Options.Add(src); cmd.Options.Add(dst);
        service.AddTo(cmd);
        cmd.Options.Add(action); cmd.Options.Add(comment); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, "creating this rule", config =>
        {
            var s = parse.GetValue(src) is { } given && given != Names.Untagged ? given : null;
            SectionConfig.TryParseAction(parse.GetValue(action)!, out var verdict);
            var key = new RuleKey(s, parse.GetValue(dst)!, service.ServiceOf(parse));
            var (edited, rule) = ConfigEdits.AddRule(config, key, verdict, PendingEdit.Comment(parse.GetValue(comment)));
            return (edited, $"added rule {rule.Id} ({rule.Key} {Output.Json.Word(verdict)})");
        }));
        return cmd;
    }

    private static Command Set(Io io)
    {
        var cmd = new Command("set", "Change a rule's action or comment");
        var id = new Argument<string>("ID") { Description = "Rule id, p{src_mark}-{dst_mark}[-{proto}{dport}] (see 'rule list')" };
        var action = ActionOption(required: false);
        var comment = new Option<string?>("--comment") { Description = "New comment, one line" };
        var delete = new Option<string[]>("--delete") { Description = "Properties to remove: comment" }.OneOf("comment");
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(id);
        cmd.Options.Add(action); cmd.Options.Add(comment); cmd.Options.Add(delete); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, $"updating rule '{Text.Clip(parse.GetValue(id)!)}'", config =>
        {
            RuleAction? verdict = parse.GetValue(action) is { } a && SectionConfig.TryParseAction(a, out var parsed) ? parsed : null;
            var (edited, rule) = ConfigEdits.UpdateRule(config, parse.GetValue(id)!, verdict,
                PendingEdit.Comment(parse.GetValue(comment)), PendingEdit.Deletes(parse.GetValue(delete)));
            return (edited, $"updated rule {rule.Id}");
        }));
        return cmd;
    }
}
