// `microseg apply [IFACE]`, `microseg clear`, `microseg status`: the agent's commands.
using System.CommandLine;
using Microseg.Agent;
using Microseg.Agent.Policy;
using Microseg.Api.Endpoints;
using Microseg.Agent.Subsystems;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Cli.Commands;

/// <summary>The options every agent command takes, declared once.</summary>
internal static class AgentOptionSet
{
    public static readonly Option<string> Bpffs = new("--bpffs")
    {
        Description = "Pin root on a bpffs mount [env MICROSEG_BPFFS]",
        DefaultValueFactory = _ => Env("MICROSEG_BPFFS") ?? AgentOptions.DefaultBpffsRoot,
    };

    public static readonly Option<string> RunDir = new("--run-dir")
    {
        Description = "Run state directory (fingerprint, schema, locks) [env MICROSEG_RUN_DIR]",
        DefaultValueFactory = _ => Env("MICROSEG_RUN_DIR") ?? AgentOptions.DefaultRunDirectory,
    };

    public static readonly Option<string> Node = new("--node")
    {
        Description = "This host's node name [env MICROSEG_NODE, else the hostname]",
        DefaultValueFactory = _ => Env("MICROSEG_NODE") ?? Environment.MachineName,
    };

    public static readonly Option<string> Attach = new("--attach")
    {
        Description = "How programs reach interfaces: tcx links, tc (clsact qdisc + cls_bpf filter), or auto (tcx where the kernel has it, ≥ 6.6) [env MICROSEG_ATTACH; default: auto]",
        DefaultValueFactory = _ => Env("MICROSEG_ATTACH") ?? "auto",
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v") { Description = "Log debug detail to stderr" };

    public static void AddTo(Command command)
    {
        command.Options.Add(Bpffs);
        command.Options.Add(RunDir);
        command.Options.Add(Node);
        command.Options.Add(Attach);
        command.Options.Add(Verbose);
    }

    /// <summary>Quiet by default (warnings and errors); -v for debug detail.</summary>
    public static ILoggerFactory Logs(ParseResult parse, Io io)
    {
        var minimum = parse.GetValue(Verbose) ? LogLevel.Debug : LogLevel.Warning;
        var logs = new LoggerFactory([new Output.JournalLoggerProvider(io.Err, minimum)], new LoggerFilterOptions { MinLevel = minimum });
        // libbpf's own lines go to debug: each failure is our one-line error already, and tc mode
        // asks the kernel for filters that are not there (libbpf prints every netlink refusal).
        var libbpf = logs.CreateLogger("libbpf");
        Microseg.Bpf.LibbpfLog.Redirect((_, line) => libbpf.Log(LogLevel.Debug, "{Message}", line));
        return logs;
    }

    public static MicrosegAgent Agent(ParseResult parse, ILoggerFactory logs) => new(Options(parse), new NetlinkInterfaces(), logs);

    public static AgentOptions Options(ParseResult parse) =>
        new(parse.GetValue(Bpffs)!, parse.GetValue(RunDir)!, parse.GetValue(Node)!, AttachMode(parse.GetValue(Attach)!));

    /// <summary>--attach (or MICROSEG_ATTACH): auto, tcx or tc.</summary>
    private static Microseg.Bpf.AttachMode AttachMode(string value) => value switch
    {
        "auto" => Microseg.Bpf.AttachMode.Auto,
        "tcx" => Microseg.Bpf.AttachMode.Tcx,
        "tc" => Microseg.Bpf.AttachMode.Tc,
        _ => throw new UserException($"--attach {value}: not an attach mode (auto, tcx or tc; also MICROSEG_ATTACH)"),
    };

    /// <summary>The committed snapshot the agent acts on (never the pending file).</summary>
    public static PolicyConfig Snapshot(ParseResult parse) => Snapshot(MicrosegRootCommand.Store(parse));

    public static PolicyConfig Snapshot(IConfigStore store)
    {
        return store.ReadRunning()?.Config
            ?? throw new UserException($"nothing committed: {store.RunningLocation} does not exist (run 'microseg commit')");
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
}

public sealed class ApplyCommand : Command
{
    public ApplyCommand(Io io) : base("apply", "Enforce the committed policy on this host; with IFACE, only that NIC (the plug path)")
    {
        var iface = new Argument<string?>("IFACE") { Description = "A guest NIC that just appeared (tap{vmid}i{n} or veth{vmid}i{n})", Arity = ArgumentArity.ZeroOrOne };
        Arguments.Add(iface);
        AgentOptionSet.AddTo(this);
        SetAction(parse =>
        {
            var store = MicrosegRootCommand.Store(parse);
            // The snapshot file's stamp (one statx), when the store is a file: the policy's plug
            // index is versioned with it, so a plug can skip reading the snapshot.
            var runningFile = (store as DirectoryConfigStore)?.RunningPath;
            var stamp = runningFile is null ? null : FileStamp.Of(runningFile);
            using var logs = AgentOptionSet.Logs(parse, io);
            var agent = AgentOptionSet.Agent(parse, logs);
            if (parse.GetValue(iface) is { } quick && stamp is not null && agent.ApplyInterfaceIndexed(quick, stamp) is { } indexed)
            {
                Report(io, indexed.Reports);
                return indexed.Failed ? ExitCodes.Invalid : ExitCodes.Ok;
            }
            if (parse.GetValue(iface) is null && stamp is not null && agent.ApplyUnchanged(stamp) is { } unchanged)
            {
                Report(io, unchanged.Reports);
                return unchanged.Failed ? ExitCodes.Invalid : ExitCodes.Ok;
            }
            var config = AgentOptionSet.Snapshot(store);
            // A snapshot replaced while it was read has no stamp to vouch for it.
            if (runningFile is not null && FileStamp.Of(runningFile) != stamp) stamp = null;
            if (parse.GetValue(iface) is { } name)
            {
                var outcome = agent.ApplyInterface(config, name, stamp);
                if (outcome.Skipped is { } why)
                    io.Out.WriteLine($"{name}: nothing to do: {why}");
                Report(io, outcome.Reports);
                return outcome.Failed ? ExitCodes.Invalid : ExitCodes.Ok;
            }
            var full = agent.Apply(config, stamp);
            Report(io, full.Reports);
            return full.Failed ? ExitCodes.Invalid : ExitCodes.Ok;
        });
    }

    /// <summary>Each subsystem's summary, warnings and errors; the policy's map and link counts
    /// on a line of their own, and its failed NICs unprefixed (they name the NIC).</summary>
    private static void Report(Io io, IReadOnlyList<SubsystemReport> reports)
    {
        foreach (var report in reports)
        {
            io.Out.WriteLine($"{report.Subsystem}: {report.Summary}");
            if (report is PolicyReport { Result: var r })
                io.Out.WriteLine($"maps: verdicts +{r.VerdictsWritten} -{r.VerdictsRemoved}, " +
                    (r.ServicesWritten + r.ServicesRemoved > 0 ? $"services +{r.ServicesWritten} -{r.ServicesRemoved}, " : "") +
                    $"nic_group +{r.NicEntriesWritten} -{r.NicEntriesRemoved}; " +
                    $"links +{r.LinksCreated} ~{r.LinksUpdated} -{r.LinksRemoved}");
            foreach (var w in report.Warnings) io.Out.WriteLine($"warning: {report.Subsystem}: {w}");
            foreach (var e in report.Errors) io.Err.WriteLine(report is PolicyReport ? $"microseg: {e}" : $"microseg: {report.Subsystem}: {e}");
        }
    }
}

public sealed class ClearCommand : Command
{
    public ClearCommand(Io io) : base("clear", "Detach everything and remove all pins and run state (package removal)")
    {
        AgentOptionSet.AddTo(this);
        SetAction(parse =>
        {
            using var logs = AgentOptionSet.Logs(parse, io);
            var links = AgentOptionSet.Agent(parse, logs).Clear();
            io.Out.WriteLine($"cleared: {links} link{(links == 1 ? "" : "s")} detached, pins and run state removed");
            return ExitCodes.Ok;
        });
    }
}

public sealed class StatusCommand : Command
{
    public StatusCommand(Io io) : base("status", "Show what is loaded, which NICs are enforced with which group, map sizes, warnings")
    {
        var json = new Option<bool>("--json") { Description = "JSON output" };
        Options.Add(json);
        Options.Add(ClusterStatus.Option);
        AgentOptionSet.AddTo(this);
        SetAction(parse =>
        {
            if (parse.GetValue(ClusterStatus.Option)) return ClusterStatus.Run(parse, io, parse.GetValue(json));
            PolicyConfig? config = null;
            try { config = MicrosegRootCommand.Store(parse).ReadRunning()?.Config; }
            catch (ConfigException e) { io.Err.WriteLine($"microseg: warning: snapshot unreadable, groups shown by mark only: {e.Problems[0]}"); }
            using var logs = AgentOptionSet.Logs(parse, io);
            var s = AgentOptionSet.Agent(parse, logs).Status(config);
            if (parse.GetValue(json)) Output.Json.Write(io.Out, w => AgentStatusJson.Write(w, s));
            else Output.StatusText.Write(io.Out, s);
            return ExitCodes.Ok;
        });
    }
}
