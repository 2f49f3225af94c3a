// `microseg lab up|check|down|demo`: network-namespace labs that show policy on real packets,
// on one host or across hosts joined by a carrier (VXLAN-GBP, SRv6).
using System.CommandLine;
using Microseg.Lab;

namespace Microseg.Cli.Commands;

public sealed class LabCommand : Command
{
    public LabCommand(Io io) : base("lab", "Build a lab of network namespaces (hosts, bridges, guests) and check policy on real packets (root)")
    {
        var file = new Argument<string?>("FILE")
        {
            Description = $"Lab file (JSON) or a built-in lab ({string.Join(", ", LabSpec.BuiltInNames)}); default: demo (the worked example of examples/microseg.cfg on one host)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var up = new Command("up", "Create the lab, commit its policy and apply it on every host");
        up.Arguments.Add(file);
        up.SetAction(parse =>
        {
            var lab = new Lab.Lab(Spec(parse.GetValue(file)), MicrosegBinary.Path);
            lab.Up(io.Out);
            io.Out.WriteLine($"lab {lab.Spec.Name} is up; 'microseg lab check {lab.Spec.Name}' sends traffic, 'microseg lab down {lab.Spec.Name}' removes it");
            return ExitCodes.Ok;
        });

        var name = new Argument<string>("NAME") { Description = "Lab name", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "demo" };
        var check = new Command("check", "Send traffic between every pair of guests; print observed beside expected; exit 1 on any difference");
        check.Arguments.Add(name);
        check.SetAction(parse => Check(io, Lab.Lab.Existing(parse.GetValue(name)!, MicrosegBinary.Path)));

        var down = new Command("down", "Remove the lab: agent state, namespaces, mounts");
        down.Arguments.Add(name);
        down.SetAction(parse =>
        {
            Lab.Lab.Down(parse.GetValue(name)!);
            io.Out.WriteLine($"lab {parse.GetValue(name)} is down");
            return ExitCodes.Ok;
        });

        var demo = new Command("demo", "up, check and down in one go (what `make demo` runs); without FILE: every built-in lab, one host then across hosts");
        demo.Arguments.Add(file);
        demo.SetAction(parse =>
        {
            var specs = parse.GetValue(file) is { } f ? [Spec(f)] : LabSpec.BuiltInNames.Select(LabSpec.BuiltIn).ToList();
            int exit = ExitCodes.Ok;
            foreach (var spec in specs)
            {
                if (spec != specs[0]) io.Out.WriteLine();
                if (Demo(io, spec) != ExitCodes.Ok) exit = ExitCodes.Invalid;
            }
            return exit;
        });

        Subcommands.Add(up);
        Subcommands.Add(check);
        Subcommands.Add(down);
        Subcommands.Add(demo);
    }

    private static int Demo(Io io, LabSpec spec)
    {
        var lab = new Lab.Lab(spec, MicrosegBinary.Path);
        io.Out.WriteLine($"=== lab {spec.Name}: {(spec.IsMultiHost ? $"{spec.Hosts.Count} hosts joined by {spec.Carrier.Name()}" : "one host")}");
        lab.Up(io.Out);
        try
        {
            io.Out.WriteLine();
            io.Out.WriteLine("Policy matrix of the committed config (microseg matrix --running):");
            Program.Run(["matrix", "--running", "--config-dir", lab.ConfigDirectory], io.Out, io.Err);
            if (spec.IsMultiHost)
            {
                io.Out.WriteLine();
                lab.Show(spec.Hosts[^1], io.Out, "status");
            }
            io.Out.WriteLine();
            return Check(io, lab);
        }
        finally
        {
            Lab.Lab.Down(lab.Spec.Name);
            io.Out.WriteLine($"lab {lab.Spec.Name} is down");
        }
    }

    /// <summary>Traffic between every pair of guests against the policy; across hosts, also the
    /// group each host sees on the others' guests.</summary>
    private static int Check(Io io, Lab.Lab lab)
    {
        var report = LabCheck.Run(lab);
        io.Out.Write(LabCheck.Render(lab, report));
        if (!lab.Spec.IsMultiHost) return report.AllMatch ? ExitCodes.Ok : ExitCodes.Invalid;
        var carrier = CarrierCheck.Run(lab);
        io.Out.Write(CarrierCheck.Render(lab, carrier));
        return report.AllMatch && carrier.AllMatch ? ExitCodes.Ok : ExitCodes.Invalid;
    }

    /// <summary>A lab file, or a built-in lab by name when no such file exists.</summary>
    private static LabSpec Spec(string? file) => file switch
    {
        null => LabSpec.Demo(),
        _ when !File.Exists(file) && LabSpec.BuiltInNames.Contains(file) => LabSpec.BuiltIn(file),
        _ => LabSpec.Load(file),
    };
}

/// <summary>This executable, which the labs run inside their namespaces.</summary>
internal static class MicrosegBinary
{
    public static string Path => Environment.ProcessPath ?? throw new UserException("cannot tell where the microseg executable is");
}
