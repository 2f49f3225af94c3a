// `microseg config check`: parse and validate the pending config without writing anything.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class ConfigCommand : Command
{
    public ConfigCommand(Io io) : base("config", "Inspect the pending config")
    {
        var check = new Command("check", "Parse and validate microseg.cfg; exit 1 with every problem if it is invalid");
        check.SetAction(parse =>
        {
            var store = MicrosegRootCommand.Store(parse);
            var pending = store.ReadPending();
            var (config, assigned) = Marks.AssignMissing(pending.Config);
            Validation.Ensure(config);
            io.Out.WriteLine($"{store.PendingLocation}: ok: {config.Groups.Count} groups, {config.Rules.Count} rules, " +
                $"{config.Assignments.Count} assignments, {config.Bridges.Count} bridges, {config.Forwarders.Count} forwarders");
            foreach (var g in assigned)
                io.Out.WriteLine($"note: group {g.Name} has no mark; commit will assign {g.Mark}");
            return ExitCodes.Ok;
        });
        Subcommands.Add(check);
    }
}

/// <summary>Loads the config that explain and matrix resolve: pending by default, or the
/// committed snapshot with --running (or --running-config PATH).</summary>
internal static class PolicySource
{
    public static Option<bool> RunningOption() => new("--running")
    {
        Description = "Resolve the committed snapshot instead of the pending config",
    };

    public static PolicyEngine Engine(ParseResult parse, Option<bool> running)
    {
        var store = MicrosegRootCommand.Store(parse);
        PolicyConfig config;
        if (parse.GetValue(running) || parse.GetValue(MicrosegRootCommand.RunningConfig) is not null)
            config = store.ReadRunning()?.Config ?? throw new UserException($"nothing committed yet: {store.RunningLocation} does not exist (run 'microseg commit')");
        else
            config = store.ReadPending().Config;
        (config, _) = Marks.AssignMissing(config);
        Validation.Ensure(config);
        return new PolicyEngine(config);
    }

    /// <summary>A group name or 'untagged' (null) as the engine takes it.</summary>
    public static string? Source(PolicyEngine engine, string name) =>
        name == Names.Untagged ? null : Group(engine, name, "source");

    public static string Group(PolicyEngine engine, string name, string role) =>
        engine.HasGroup(name) ? name : throw new UserException($"unknown {role} group '{name}' (groups: {string.Join(", ", engine.Groups)})");
}
