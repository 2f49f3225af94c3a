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
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MICROSEG_CONFIG_DIR") is { Length: > 0 } dir ? dir : DirectoryConfigStore.DefaultDirectory,
    };

    public static readonly Option<string?> RunningConfig = new("--running-config")
    {
        Description = "Committed snapshot to use instead of CONFIG_DIR/running-config.json (also a Proxmox SDN .running-config)",
    };

    public MicrosegRootCommand(Io io)
        : base("microseg: group-based microsegmentation for VMs and containers, enforced in the kernel with eBPF")
    {
        Options.Add(ConfigDir);
        Options.Add(StoreSelection.Option);
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
        Subcommands.Add(new FlushFlowsCommand(io));
        Subcommands.Add(new StatsCommand(io));
        Subcommands.Add(new MonitorCommand(io));
        Subcommands.Add(new AgentCommand(io));
        Subcommands.Add(new LabCommand(io));
        Subcommands.Add(new ForwarderCommand(io));
        Subcommands.Add(new ServeCommand(io));
        Subcommands.Add(new TokenCommand(io));
        Subcommands.Add(new StoreCommand(io));
        Subcommands.Add(new GenerateCommand(io));
        Subcommands.Add(new HelpCommand(io));
        // A fixed width: asking the terminal for its width (Console.WindowWidth) is what makes
        // System.Console switch it to keypad mode and print ESC [?1h ESC = first.
        foreach (var help in Options.OfType<System.CommandLine.Help.HelpOption>())
            if (help.Action is System.CommandLine.Help.HelpAction action) action.MaxWidth = HelpWidth;
        // Only where a committed snapshot is read or written; elsewhere it would be ignored.
        foreach (var name in RunningConfigCommands)
            Subcommands.Single(c => c.Name == name).Options.Add(RunningConfig);
    }

    /// <summary>Help text wraps at COLUMNS when the shell exports it, else at 100.</summary>
    private static int HelpWidth =>
        int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns >= 40 ? columns : 100;

    /// <summary>The commands that take --running-config.</summary>
    public static readonly string[] RunningConfigCommands = ["commit", "explain", "matrix", "apply", "status", "agent", "serve"];

    /// <summary>The config store every command reads and edits through.</summary>
    public static IConfigStore Store(ParseResult parse) =>
        StoreSelection.Open(parse.GetValue(StoreSelection.Option), parse.GetValue(ConfigDir)!, parse.GetValue(RunningConfig));
}
