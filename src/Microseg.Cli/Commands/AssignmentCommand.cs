// `microseg assignment add|set|del|list`. Assignment ids are derived: vm{vmid}i{iface}.
using System.CommandLine;
using System.Globalization;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class AssignmentCommand : Command
{
    public AssignmentCommand(Io io) : base("assignment", "Edit which group each guest NIC belongs to")
    {
        Subcommands.Add(Add(io));
        Subcommands.Add(Set(io));
        Subcommands.Add(new DeleteCommand(io, ObjectType.Assignment));
        Subcommands.Add(new ListCommand(io, ObjectType.Assignment, ["ID", "VMID", "IFACE", "GROUP", "NICS"], o =>
        {
            var a = (Assignment)o;
            return [a.Id, a.Vmid.ToString(CultureInfo.InvariantCulture), a.Iface.ToString(CultureInfo.InvariantCulture), a.Group,
                $"tap{a.Vmid}i{a.Iface},veth{a.Vmid}i{a.Iface}"];
        }));
    }

    private static Command Add(Io io)
    {
        var cmd = new Command("add", "Assign guest NIC (vmid, iface) to a group");
        var vmid = OptionValues.Long("--vmid", 100, 999999999, "Guest id, 100..999999999", required: true);
        var iface = OptionValues.Long("--iface", 0, 31, "NIC index, 0..31", required: true);
        var group = new Option<string>("--group") { Description = "The group the NIC belongs to", Required = true };
        var digest = PendingEdit.DigestOption();
        cmd.Options.Add(vmid); cmd.Options.Add(iface); cmd.Options.Add(group); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, "creating this assignment", config =>
        {
            var (edited, a) = ConfigEdits.AddAssignment(config, parse.GetValue(vmid), parse.GetValue(iface), parse.GetValue(group)!);
            return (edited, $"added assignment {a.Id} (group {a.Group})");
        }));
        return cmd;
    }

    private static Command Set(Io io)
    {
        var cmd = new Command("set", "Move a guest NIC to another group");
        var id = new Argument<string>("ID") { Description = "Assignment id, vm{vmid}i{iface}" };
        var group = new Option<string>("--group") { Description = "The group the NIC moves to", Required = true };
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(id);
        cmd.Options.Add(group); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, $"updating assignment '{Text.Clip(parse.GetValue(id)!)}'", config =>
        {
            var (edited, a) = ConfigEdits.UpdateAssignment(config, parse.GetValue(id)!, parse.GetValue(group)!);
            return (edited, $"updated assignment {a.Id}");
        }));
        return cmd;
    }
}
