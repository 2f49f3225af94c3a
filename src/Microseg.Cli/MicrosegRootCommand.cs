// The command tree and the options every command shares.
using System.CommandLine;
using Microseg.Cli.Commands;
using Microseg.Policy;

namespace Microseg.Cli;

public sealed class MicrosegRootCommand : RootCommand
{
    public static readonly Option<string> ConfigDir = new("--config-dir")
    {
        Description = "Config directory holding microseg.cfg and running-config.json [env MICROSEG_CONFIG_DIR]",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MICROSEG_CONFIG_DIR") is { Length: > 0 } dir ? dir : ConfigStore.DefaultDirectory,
    };

    public static readonly Option<string?> RunningConfig = new("--running-config")
    {
        Description = "Committed snapshot to use instead of CONFIG_DIR/running-config.json (also a Proxmox SDN .running-config)",
        Recursive = true,
    };

    public MicrosegRootCommand(Io io)
        : base("microseg: group-based microsegmentation for VMs and containers, enforced in the kernel with eBPF")
    {
        Options.Add(ConfigDir);
        Options.Add(RunningConfig);
        Subcommands.Add(new ConfigCommand(io));
        Subcommands.Add(new GroupCommand(io));
        Subcommands.Add(new RuleCommand(io));
        Subcommands.Add(new AssignmentCommand(io));
        Subcommands.Add(new BridgeCommand(io));
        Subcommands.Add(new CommitCommand(io));
        Subcommands.Add(new ExplainCommand(io));
        Subcommands.Add(new MatrixCommand(io));
        Subcommands.Add(new ApplyCommand(io));
        Subcommands.Add(new ClearCommand(io));
        Subcommands.Add(new StatusCommand(io));
        Subcommands.Add(new LabCommand(io));
        Subcommands.Add(new ForwarderCommand(io));
        Subcommands.Add(new ServeCommand(io));
        Subcommands.Add(new TokenCommand(io));
        Subcommands.Add(new GenerateCommand(io));
    }

    public static ConfigStore Store(ParseResult parse) =>
        new(parse.GetValue(ConfigDir)!, parse.GetValue(RunningConfig));
}
