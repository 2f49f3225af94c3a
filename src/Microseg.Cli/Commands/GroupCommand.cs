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
        Subcommands.Add(new ListCommand(io, ObjectType.Group, ["NAME", "MARK", "PARENT", "COMMENT"], o =>
        {
            var g = (Group)o;
            return [g.Name, g.Mark?.ToString(CultureInfo.InvariantCulture), g.Parent, g.Comment];
        }));
    }

    private static Command Add(Io io)
    {
        var cmd = new Command("add", "Add a group; without --mark it gets the lowest free mark, stored in the file");
        var name = new Argument<string>("NAME");
        var mark = new Option<int?>("--mark") { Description = "Group mark 1..65535 (its identity on the wire)" };
        var parent = new Option<string?>("--parent") { Description = "Parent group" };
        var comment = new Option<string?>("--comment");
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(mark); cmd.Options.Add(parent); cmd.Options.Add(comment); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, config =>
        {
            var n = parse.GetValue(name)!;
            if (Names.GroupNameProblem(n) is { } problem) throw new UserException(problem);
            PendingEdit.EnsureFreeId(config, ObjectType.Group, n);
            var m = parse.GetValue(mark) ?? Marks.NextFree(config);
            var group = new Group(n, m, parse.GetValue(parent), PendingEdit.Comment(parse.GetValue(comment)));
            return (config.Put(group), $"added group {n} (mark {m})");
        }));
        return cmd;
    }

    private static Command Set(Io io)
    {
        var cmd = new Command("set", "Change a group; rule ids that derive from its mark follow a mark change");
        var name = new Argument<string>("NAME");
        var mark = new Option<int?>("--mark");
        var parent = new Option<string?>("--parent");
        var comment = new Option<string?>("--comment");
        var delete = new Option<string[]>("--delete") { Description = "Properties to remove: parent, comment", AllowMultipleArgumentsPerToken = true };
        delete.AcceptOnlyFromAmong("parent", "comment");
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(mark); cmd.Options.Add(parent); cmd.Options.Add(comment); cmd.Options.Add(delete); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, config =>
        {
            var n = parse.GetValue(name)!;
            var group = PendingEdit.Existing<Group>(config, ObjectType.Group, n);
            var deletes = parse.GetValue(delete) ?? [];
            var updated = group with
            {
                Mark = parse.GetValue(mark) ?? group.Mark,
                Parent = deletes.Contains("parent") ? null : parse.GetValue(parent) ?? group.Parent,
                Comment = deletes.Contains("comment") ? null : PendingEdit.Comment(parse.GetValue(comment)) ?? group.Comment,
            };
            config = config.Put(updated);
            if (updated.Mark != group.Mark) config = config.RederiveRuleIds(n);
            return (config, $"updated group {n}");
        }));
        return cmd;
    }
}
