// `microseg forwarder add|set|del|list`: XDP forwarding sets (SPEC §7) in the pending config,
// and `microseg forwarder lab up|check|down|demo`: the forwarder's namespace lab.
using System.CommandLine;
using Microseg.Agent.Forwarder;
using Microseg.Lab;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class ForwarderCommand : Command
{
    public ForwarderCommand(Io io) : base("forwarder", "Edit the XDP forwarders (physical NICs multiplexed onto one router link) of the pending config")
    {
        Subcommands.Add(Edit(io, "add", "Add a forwarder"));
        Subcommands.Add(Edit(io, "set", "Change a forwarder's router, physical interfaces, mode or nodes"));
        Subcommands.Add(new DeleteCommand(io, ObjectType.Forwarder));
        Subcommands.Add(new ListCommand(io, ObjectType.Forwarder, ["NAME", "ROUTER", "PHYSICAL", "MODE", "NODES"], o =>
        {
            var f = (Microseg.Policy.Forwarder)o;
            return [f.Name, f.Router, string.Join(',', f.Physical), Word(f.Mode), f.Nodes.Count == 0 ? "(all)" : string.Join(',', f.Nodes)];
        }));
        Subcommands.Add(new ForwarderLabCommand(io));
    }

    private static string Word(ForwarderMode mode) => SectionConfig.Word(mode);

    private static Command Edit(Io io, string verb, string description)
    {
        bool add = verb == "add";
        var cmd = new Command(verb, description);
        var name = new Argument<string>("NAME") { Description = "Forwarder name (a letter, then letters, digits, '_' or '-')" };
        var router = new Option<string?>("--router") { Description = "The interface facing the router VM", Required = add };
        var physical = new Option<string?>("--physical") { Description = "Comma list of physical interfaces, or '*' for every interface but lo and the router", Required = add };
        var mode = new Option<string?>("--mode") { Description = "skb (generic XDP, any interface; the default) or native (driver XDP)" }.OneOf("skb", "native");
        var nodes = new Option<string?>("--nodes") { Description = "Comma list of the nodes it applies to; empty or absent (add) = every node" };
        var digest = PendingEdit.DigestOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(router); cmd.Options.Add(physical); cmd.Options.Add(mode); cmd.Options.Add(nodes); cmd.Options.Add(digest);
        cmd.SetAction(parse => PendingEdit.Run(parse, io, digest, add ? "creating this forwarder" : $"updating forwarder '{Text.Clip(parse.GetValue(name)!)}'", config =>
        {
            var n = parse.GetValue(name)!;
            ValueList<string>? list = null;
            if (parse.GetValue(physical) is { } text && !SectionConfig.TryParseList(text, out list))
                throw new UserException($"--physical '{Text.Clip(text)}' has an empty item");
            // --nodes '' means every node, for set as for add; absent keeps them on set.
            ValueList<string>? nodeList = null;
            if (parse.GetValue(nodes) is { } nodesText)
            {
                nodeList = ValueList<string>.Empty;
                if (nodesText.Length > 0 && !SectionConfig.TryParseList(nodesText, out nodeList))
                    throw new UserException($"--nodes '{Text.Clip(nodesText)}' has an empty item");
            }
            ForwarderMode? m = parse.GetValue(mode) is { } given && SectionConfig.TryParseMode(given, out var parsed) ? parsed : null;
            var (edited, f) = add
                ? ConfigEdits.AddForwarder(config, n, parse.GetValue(router)!, list!, m ?? ForwarderMode.Skb, nodeList)
                : ConfigEdits.UpdateForwarder(config, n, parse.GetValue(router), list, m, nodeList);
            var on = f.Nodes.Count == 0 ? "" : $", nodes {f.Nodes}";
            return (edited, $"{(add ? "added" : "updated")} forwarder {n} (router {f.Router}, physical {f.Physical}, mode {Word(f.Mode)}{on})");
        }));
        return cmd;
    }
}

/// <summary>`microseg forwarder lab up|check|down|demo`: a driver VM (namespace) with physical
/// veths to "outside" namespaces and one router veth to a "router" namespace, the forwarder
/// applied by the real agent, and traffic that shows the multiplexing.</summary>
internal sealed class ForwarderLabCommand : Command
{
    public ForwarderLabCommand(Io io) : base("lab", "Build a forwarder lab of network namespaces and show the multiplexing on real frames (root)")
    {
        var name = new Argument<string>("NAME") { Description = "Lab name", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "fwd" };
        var mode = new Option<string>("--mode") { Description = "skb or native", DefaultValueFactory = _ => "skb" }.OneOf("skb", "native");
        var outsides = OptionValues.Int("--outsides", 1, 50, "Number of outside namespaces (physical interfaces)");
        outsides.DefaultValueFactory = _ => 2;

        var up = new Command("up", "Create the lab, commit its forwarder and apply it in the driver namespace");
        up.Arguments.Add(name); up.Options.Add(mode); up.Options.Add(outsides);
        up.SetAction(parse =>
        {
            var lab = Create(parse.GetValue(name)!, parse.GetValue(mode)!, parse.GetValue(outsides));
            lab.Up(io.Out);
            io.Out.WriteLine($"forwarder lab {lab.Name} is up; 'microseg forwarder lab check {lab.Name}' sends traffic, 'microseg forwarder lab down {lab.Name}' removes it");
            return ExitCodes.Ok;
        });

        var check = new Command("check", "Send raw frames between every outside namespace and the router over its VLAN; check that each arrives where it should and none crosses between outsides");
        check.Arguments.Add(name);
        check.SetAction(parse => Check(io, ForwarderLab.Existing(parse.GetValue(name)!, MicrosegBinary.Path, NativePeer.AttachPass)));

        var down = new Command("down", "Remove the lab: agent state, namespaces, mounts");
        down.Arguments.Add(name);
        down.SetAction(parse =>
        {
            ForwarderLab.Down(parse.GetValue(name)!);
            io.Out.WriteLine($"forwarder lab {parse.GetValue(name)} is down");
            return ExitCodes.Ok;
        });

        var demo = new Command("demo", "up, status, check and down in one go");
        demo.Arguments.Add(name); demo.Options.Add(mode); demo.Options.Add(outsides);
        demo.SetAction(parse =>
        {
            var lab = Create(parse.GetValue(name)!, parse.GetValue(mode)!, parse.GetValue(outsides));
            lab.Up(io.Out);
            try
            {
                io.Out.WriteLine();
                lab.Show(io.Out, "status");
                io.Out.WriteLine();
                return Check(io, lab);
            }
            finally
            {
                ForwarderLab.Down(lab.Name);
                io.Out.WriteLine($"forwarder lab {lab.Name} is down");
            }
        });

        Subcommands.Add(up);
        Subcommands.Add(check);
        Subcommands.Add(down);
        Subcommands.Add(demo);
    }

    private static ForwarderLab Create(string name, string mode, int outsides) =>
        new(name, MicrosegBinary.Path, SectionConfig.TryParseMode(mode, out var parsed) ? parsed : ForwarderMode.Skb, outsides, NativePeer.AttachPass);

    private static int Check(Io io, ForwarderLab lab)
    {
        var report = lab.Check();
        io.Out.Write(report.Render());
        return report.AllAsExpected ? ExitCodes.Ok : ExitCodes.Invalid;
    }


}
