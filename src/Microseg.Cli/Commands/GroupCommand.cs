// `microseg group add|set|del|list`.
using System.CommandLine;
using System.Globalization;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class GroupCommand : Command
{
    public GroupCommand(Io io) : base("group", "Edit the groups of the pending config")
    {
        Subcommands.Add(Add(io));
        Subcommands.Add(Set(io));
        Subcommands.Add(new DeleteCommand(io, ObjectType.Group));
        Subcommands.Add(new ListCommand(io, ObjectType.Group, ["NAME", "MARK", "PARENT", "STATEFUL", "INFRA", "AUDIT", "COMMENT"], o =>
        {
            var g = (Group)o;
            return [g.Name, g.Mark?.ToString(CultureInfo.InvariantCulture), g.Parent, Flag(g.Stateful), Flag(g.Infra), Flag(g.Audit), g.Comment];
        }));
    }

    /// <summary>A switch as the file has it; "-" = inherited.</summary>
    private static string? Flag(bool? value) => value is { } on ? SectionConfig.Flag(on) : null;

    private static Command Add(Io io)
    {
        var cmd = new Command("add", "Add a group; without --mark it gets the lowest free mark, stored in the file");
        var name = new Argument<string>("NAME") { Description = "Group name: a letter, then up to 63 letters, digits, '_' or '-'" };
        var mark = OptionValues.OptionalInt("--mark", 1, 65535, "Group mark 1..65535 (its identity on the wire); default: the lowest free one");
        var parent = new Option<string?>("--parent") { Description = "Parent group" };
        var comment = new Option<string?>("--comment") { Description = "Free text, one line" };
        var switches = new SwitchOptions();
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(mark); cmd.Options.Add(parent);
        switches.AddTo(cmd);
        cmd.Options.Add(comment); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, "creating this group", config =>
        {
            var (edited, group) = ConfigEdits.AddGroup(config, parse.GetValue(name)!, parse.GetValue(mark), parse.GetValue(parent), PendingEdit.Comment(parse.GetValue(comment)),
                switches.SettingsOf(parse));
            return (edited, $"added group {group.Name} (mark {group.Mark})");
        }));
        return cmd;
    }

    private static Command Set(Io io)
    {
        var cmd = new Command("set", "Change a group; rule ids that derive from its mark follow a mark change");
        var name = new Argument<string>("NAME") { Description = "The group to change" };
        var mark = OptionValues.OptionalInt("--mark", 1, 65535, "New mark 1..65535 (rule ids follow)");
        var parent = new Option<string?>("--parent") { Description = "New parent group" };
        var comment = new Option<string?>("--comment") { Description = "New comment, one line" };
        var delete = new Option<string[]>("--delete") { Description = "Properties to remove: parent, comment, stateful, infra, audit (a removed switch is inherited again)", AllowMultipleArgumentsPerToken = true }
            .OneOf("parent", "comment", "stateful", "infra", "audit");
        var switches = new SwitchOptions();
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(mark); cmd.Options.Add(parent);
        switches.AddTo(cmd);
        cmd.Options.Add(comment); cmd.Options.Add(delete); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, $"updating group '{Text.Clip(parse.GetValue(name)!)}'", config =>
        {
            var (edited, group) = ConfigEdits.UpdateGroup(config, parse.GetValue(name)!, parse.GetValue(mark), parse.GetValue(parent),
                PendingEdit.Comment(parse.GetValue(comment)), PendingEdit.Deletes(parse.GetValue(delete)), switches.SettingsOf(parse));
            return (edited, $"updated group {group.Name}");
        }));
        return cmd;
    }
}
