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
        SetAction(parse =>
        {
            // Quiet by default except for the agent's own line per event; -v for debug detail.
            var verbose = parse.GetValue(AgentOptionSet.Verbose);
            var filters = new LoggerFilterOptions { MinLevel = verbose ? LogLevel.Debug : LogLevel.Warning };
            if (!verbose) filters.Rules.Add(new LoggerFilterRule(null, ResidentAgent.LogCategory, LogLevel.Information, null));
            using var logs = new LoggerFactory([new JournalLoggerProvider(io.Err, verbose ? LogLevel.Debug : LogLevel.Information)], filters);
            var options = new AgentOptions(parse.GetValue(AgentOptionSet.Bpffs)!, parse.GetValue(AgentOptionSet.RunDir)!, parse.GetValue(AgentOptionSet.Node)!);
            using var notifier = SystemdNotifier.FromEnvironment();
            var agent = new ResidentAgent(options, MicrosegRootCommand.Store(parse), logs, notifier, SystemdNotifier.WatchdogIntervalFromEnvironment());
            return agent.Run(CancellationToken.None) == 0 ? ExitCodes.Ok : ExitCodes.Invalid;
        });
    }
}
