// `microseg apply [IFACE]`, `microseg clear`, `microseg status`: the agent's commands.
using System.CommandLine;
using System.Globalization;
using Microseg.Agent;
using Microseg.Agent.Policy;
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

    public static readonly Option<bool> Verbose = new("--verbose", "-v") { Description = "Log debug detail to stderr" };

    public static void AddTo(Command command)
    {
        command.Options.Add(Bpffs);
        command.Options.Add(RunDir);
        command.Options.Add(Node);
        command.Options.Add(Verbose);
    }

    /// <summary>Quiet by default (warnings and errors); -v for debug detail.</summary>
    public static ILoggerFactory Logs(ParseResult parse, Io io)
    {
        var minimum = parse.GetValue(Verbose) ? LogLevel.Debug : LogLevel.Warning;
        return new LoggerFactory([new Output.JournalLoggerProvider(io.Err, minimum)], new LoggerFilterOptions { MinLevel = minimum });
    }

    public static MicrosegAgent Agent(ParseResult parse, ILoggerFactory logs) =>
        new(new AgentOptions(parse.GetValue(Bpffs)!, parse.GetValue(RunDir)!, parse.GetValue(Node)!), logs);

    /// <summary>The committed snapshot the agent acts on (never the pending file).</summary>
    public static PolicyConfig Snapshot(ParseResult parse)
    {
        var store = MicrosegRootCommand.Store(parse);
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
            var config = AgentOptionSet.Snapshot(parse);
            using var logs = AgentOptionSet.Logs(parse, io);
            var agent = AgentOptionSet.Agent(parse, logs);
            if (parse.GetValue(iface) is { } name)
            {
                var outcome = agent.ApplyInterface(config, name);
                if (outcome.Skipped is { } why)
                    io.Out.WriteLine($"{name}: nothing to do: {why}");
                if (outcome.Result is { } policyResult) Report(io, policyResult);
                ReportSubsystems(io, outcome.Subsystems);
                return outcome.Failed ? ExitCodes.Invalid : ExitCodes.Ok;
            }
            var full = agent.Apply(config);
            Report(io, full.Policy);
            ReportSubsystems(io, full.Subsystems);
            return full.Failed ? ExitCodes.Invalid : ExitCodes.Ok;
        });
    }

    private static void ReportSubsystems(Io io, IReadOnlyList<(string Subsystem, SubsystemReport Report)> reports)
    {
        foreach (var (name, report) in reports)
        {
            io.Out.WriteLine($"{name}: {report.Summary}");
            foreach (var w in report.Warnings) io.Out.WriteLine($"warning: {name}: {w}");
            foreach (var e in report.Errors) io.Err.WriteLine($"microseg: {name}: {e}");
        }
    }

    private static void Report(Io io, PolicyApplyResult r)
    {
        io.Out.WriteLine($"policy: programs {r.Load.ToString().ToLowerInvariant()}; " +
            $"enforced {r.Enforced.Count} NIC{(r.Enforced.Count == 1 ? "" : "s")}" +
            (r.Enforced.Count > 0 ? ": " + string.Join(", ", r.Enforced.Select(n => $"{n.Name} ({n.Group})")) : ""));
        io.Out.WriteLine($"maps: verdicts +{r.VerdictsWritten} -{r.VerdictsRemoved}, nic_group +{r.NicEntriesWritten} -{r.NicEntriesRemoved}; " +
            $"links +{r.LinksCreated} ~{r.LinksUpdated} -{r.LinksRemoved}");
        foreach (var (nic, error) in r.Failed)
            io.Err.WriteLine($"microseg: cannot enforce {nic.Name} ({nic.AssignmentId}, group {nic.Group}): {error}");
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
        AgentOptionSet.AddTo(this);
        SetAction(parse =>
        {
            PolicyConfig? config = null;
            try { config = MicrosegRootCommand.Store(parse).ReadRunning()?.Config; }
            catch (ConfigException e) { io.Err.WriteLine($"microseg: warning: snapshot unreadable, groups shown by mark only: {e.Problems[0]}"); }
            using var logs = AgentOptionSet.Logs(parse, io);
            var s = AgentOptionSet.Agent(parse, logs).Status(config);
            if (parse.GetValue(json)) { WriteJson(io, s); return ExitCodes.Ok; }
            io.Out.WriteLine($"node:      {s.Node}");
            io.Out.WriteLine($"policy:    {(s.Loaded ? "loaded" : "not loaded")}" +
                (s.Loaded ? $", fingerprint {s.Fingerprint?[..12]}, schema {s.Schema}, programs ingress #{s.IngressProgramId} egress #{s.EgressProgramId}" : ""));
            io.Out.WriteLine($"maps:      nic_group {s.NicGroupEntries} entries, verdicts {s.VerdictEntries} entries");
            var table = new Output.Table("IFINDEX", "INTERFACE", "GROUP", "MARK", "INGRESS", "EGRESS");
            foreach (var n in s.Nics)
                table.Row(n.IfIndex.ToString(CultureInfo.InvariantCulture), n.Interface, n.Group, n.Mark.ToString(CultureInfo.InvariantCulture),
                    n.Ingress ? "attached" : "missing", n.Egress ? "attached" : "missing");
            io.Out.WriteLine($"enforced:  {s.Nics.Count} NIC{(s.Nics.Count == 1 ? "" : "s")}");
            if (s.Nics.Count > 0) table.WriteTo(io.Out);
            foreach (var sub in s.Subsystems)
            {
                io.Out.WriteLine($"{sub.Name}:");
                foreach (var line in sub.Lines) io.Out.WriteLine($"  {line}");
            }
            foreach (var w in AgentStatusJson.AllWarnings(s)) io.Out.WriteLine($"warning: {w}");
            return ExitCodes.Ok;
        });
    }

    private static void WriteJson(Io io, AgentStatus s) => Output.Json.Write(io.Out, w =>
    {
        w.WriteStartObject();
        w.WriteString("node", s.Node);
        w.WriteStartObject("policy");
        AgentStatusJson.WritePolicyFields(w, s);
        w.WriteEndObject();
        foreach (var sub in s.Subsystems)
        {
            w.WritePropertyName(sub.Name);
            sub.WriteJson(w);
        }
        w.WriteStartArray("warnings");
        foreach (var warning in AgentStatusJson.AllWarnings(s)) w.WriteStringValue(warning);
        w.WriteEndArray();
        w.WriteEndObject();
    });
}
