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
        var metricsAt = new Option<string?>("--metrics")
        {
            Description = "Serve Prometheus metrics at http://ADDRESS:PORT/metrics (PORT alone: on 127.0.0.1), e.g. 9617 [env MICROSEG_METRICS; default: none]",
            HelpName = "[ADDRESS:]PORT",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MICROSEG_METRICS") is { Length: > 0 } at ? at : null,
        };
        Options.Add(metricsAt);
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
            using var metrics = parse.GetValue(metricsAt) is { } at ? MetricsListener.Start(at, options, logs, io) : null;
            var agent = new ResidentAgent(options, store, logs, notifier, SystemdNotifier.WatchdogIntervalFromEnvironment(), status, metrics?.Observer);
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

/// <summary>`agent --metrics`: the metrics listener beside the agent, stopped with it. Not
/// inlined into the command (as serve): building the command tree must not load ASP.NET.</summary>
internal sealed class MetricsListener : IDisposable
{
    private readonly Microseg.Api.Metrics.MetricsServer server;

    private MetricsListener(Microseg.Api.Metrics.MetricsServer server, IApplyObserver observer)
    {
        this.server = server;
        Observer = observer;
    }

    public IApplyObserver Observer { get; }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static MetricsListener Start(string at, AgentOptions options, ILoggerFactory logs, Io io)
    {
        var listen = Microseg.Api.Metrics.MetricsServer.ParseListen(at);
        var metrics = new Microseg.Api.Metrics.NodeMetrics(options, logs);
        try
        {
            var server = Microseg.Api.Metrics.MetricsServer.StartAsync(listen, metrics).GetAwaiter().GetResult();
            io.Err.WriteLine($"microseg: metrics at {server.Address}");
            io.Err.Flush();
            return new MetricsListener(server, metrics);
        }
        catch (IOException e)
        {
            var why = e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException
                ? "address already in use (choose another with --metrics)"
                : (e.InnerException ?? e).Message;
            throw new UserException($"cannot serve metrics on {at}: {why}");
        }
    }

    public void Dispose() => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
