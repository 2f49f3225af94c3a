// `microseg bridge add|set|del|list`: carrier interfaces facing the underlay.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class BridgeCommand : Command
{
    public BridgeCommand(Io io) : base("bridge", "Edit the carrier interfaces (SRv6) of the pending config")
    {
        Subcommands.Add(Edit(io, "add", "Add a carrier interface"));
        Subcommands.Add(Edit(io, "set", "Change the nodes a carrier interface applies to"));
        Subcommands.Add(new DeleteCommand(io, ObjectType.Bridge));
        Subcommands.Add(new ListCommand(io, ObjectType.Bridge, ["NAME", "NODES"], o =>
        {
            var b = (Bridge)o;
            return [b.Name, b.Nodes.Count == 0 ? "(all)" : string.Join(',', b.Nodes)];
        }));
    }

    private static Command Edit(Io io, string verb, string description)
    {
        var cmd = new Command(verb, description);
        var name = new Argument<string>("NAME") { Description = "Interface name" };
        var nodes = new Option<string?>("--nodes") { Description = "Comma list of node names; empty or absent = every node" };
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(nodes); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, verb == "add" ? "creating this bridge" : $"updating bridge '{Text.Clip(parse.GetValue(name)!)}'", config =>
        {
            var n = parse.GetValue(name)!;
            // Absent or empty --nodes means every node, for set as for add.
            var list = ValueList<string>.Empty;
            if (parse.GetValue(nodes) is { Length: > 0 } text && !SectionConfig.TryParseList(text, out list))
                throw new UserException($"--nodes '{text}' has an empty item");
            var (edited, _) = verb == "add" ? ConfigEdits.AddBridge(config, n, list) : ConfigEdits.UpdateBridge(config, n, list);
            return (edited, $"{(verb == "add" ? "added" : "updated")} bridge {n}");
        }));
        return cmd;
    }
}
