// `microseg agent`: the resident agent in the foreground, as a systemd service (Type=notify,
// ExecReload=kill -HUP). The work is Microseg.Agent.Resident.ResidentAgent's; this class
// wires options, logs and systemd to it.
using System.CommandLine;
using Microseg.Agent;
using Microseg.Agent.Resident;
using Microseg.Cli.Output;
using Microsoft.Extensions.Logging;

namespace Microseg.Cli.Commands;

public sealed class AgentCommand : Command
{
    public AgentCommand(Io io) : base("agent",
        "Run the resident agent: enforce each committed snapshot and every guest NIC as it appears; " +
        "SIGHUP re-applies, SIGTERM stops and leaves enforcement in place")
    {
        AgentOptionSet.AddTo(this);
        var dryRun = new Option<bool>("--dry-run") { Description = "Plan each committed version and report it, never touch the kernel" };
        Options.Add(dryRun);
        SetAction(parse =>
        {
            // Quiet by default except for the agent's own line per event; -v for debug detail.
            var verbose = parse.GetValue(AgentOptionSet.Verbose);
            var filters = new LoggerFilterOptions { MinLevel = verbose ? LogLevel.Debug : LogLevel.Warning };
            if (!verbose) filters.Rules.Add(new LoggerFilterRule(null, ResidentAgent.LogCategory, LogLevel.Information, null));
            using var logs = new LoggerFactory([new JournalLoggerProvider(io.Err, verbose ? LogLevel.Debug : LogLevel.Information)], filters);
            var options = new AgentOptions(parse.GetValue(AgentOptionSet.Bpffs)!, parse.GetValue(AgentOptionSet.RunDir)!, parse.GetValue(AgentOptionSet.Node)!);
            var store = MicrosegRootCommand.Store(parse);
            // A cluster store keeps what each node enforces; the config directory has no such place.
            using var status = store is INodeStatusSource nodes ? nodes.NodeStatusSink(options.Node) : NoNodeStatus.Instance;
            if (parse.GetValue(dryRun)) return DryRun.Run(options.Node, store, status, logs);
            using var notifier = SystemdNotifier.FromEnvironment();
            var agent = new ResidentAgent(options, store, logs, notifier, SystemdNotifier.WatchdogIntervalFromEnvironment(), status);
            return agent.Run(CancellationToken.None) == 0 ? ExitCodes.Ok : ExitCodes.Invalid;
        });
    }
}

/// <summary>`microseg agent --dry-run`: the DryRunAgent until SIGTERM or SIGINT.</summary>
internal static class DryRun
{
    public static int Run(string node, Microseg.Policy.IConfigStore store, INodeStatusSink status, ILoggerFactory logs)
    {
        using var stop = new CancellationTokenSource();
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var agent = new DryRunAgent(node, store, new Microseg.Agent.Subsystems.NetlinkInterfaces(), status, logs.CreateLogger(ResidentAgent.LogCategory));
        return agent.RunAsync(stop.Token).GetAwaiter().GetResult();
    }
}
