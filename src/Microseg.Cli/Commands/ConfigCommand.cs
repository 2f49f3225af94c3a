// `microseg config check`: parse and validate the pending config without writing anything.
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class ConfigCommand : Command
{
    public ConfigCommand(Io io) : base("config", "Inspect the pending config")
    {
        var check = new Command("check", "Parse and validate microseg.cfg; exit 1 with every problem if it is invalid (or missing)");
        var json = new Option<bool>("--json")
        {
            Description = "JSON output: {\"data\": {\"file\", \"exists\", \"valid\", \"digest\", \"counts\", \"marks_to_assign\", \"problems\"}}",
        };
        check.Options.Add(json);
        check.SetAction(parse =>
        {
            var store = MicrosegRootCommand.Store(parse);
            return parse.GetValue(json) ? CheckJson(io, store) : Check(io, store);
        });
        Subcommands.Add(check);
    }

    private static int Check(Io io, IConfigStore store)
    {
        var pending = PendingEdit.ReadExisting(store);
        var (config, assigned) = Marks.AssignMissing(pending.Config);
        Validation.Ensure(config);
        io.Out.WriteLine($"{store.PendingLocation}: ok: {Counted(config)}");
        foreach (var g in assigned)
            io.Out.WriteLine($"note: group {g.Name} has no mark; commit will assign {g.Mark}");
        return ExitCodes.Ok;
    }

    /// <summary>Always one JSON document on stdout, valid or not; the exit code says which.</summary>
    private static int CheckJson(Io io, IConfigStore store)
    {
        PendingConfig? pending = null;
        PolicyConfig? config = null;
        IReadOnlyList<Group> assigned = [];
        IReadOnlyList<ConfigProblem> problems;
        try
        {
            pending = store.ReadPending();
            if (!pending.Exists) problems = [new ConfigProblem(store.PendingLocation, null, PendingEdit.MissingMessage(store))];
            else
            {
                (config, assigned) = Marks.AssignMissing(pending.Config);
                problems = Validation.Check(config);
            }
        }
        catch (ConfigException e)
        {
            problems = e.Problems;
        }
        Output.Json.Write(io.Out, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("data");
            w.WriteString("file", store.PendingLocation);
            w.WriteBoolean("exists", pending?.Exists ?? true);
            w.WriteBoolean("valid", problems.Count == 0);
            if (pending is { Exists: true }) w.WriteString("digest", pending.Digest); else w.WriteNull("digest");
            w.WriteStartObject("counts");
            foreach (var type in ObjectTypes.All)
                w.WriteNumber(type.Name(), config?.Objects.Count(o => o.Type == type) ?? 0);
            w.WriteEndObject();
            w.WriteStartArray("marks_to_assign");
            foreach (var g in assigned)
            {
                w.WriteStartObject();
                w.WriteString("group", g.Name);
                w.WriteNumber("mark", g.Mark!.Value);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            ConfigJson.WriteProblems(w, problems);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        foreach (var p in problems) io.Err.WriteLine($"microseg: {p}");
        return problems.Count == 0 ? ExitCodes.Ok : ExitCodes.Invalid;
    }

    /// <summary>"4 groups, 3 rules, 1 assignment, 0 bridges, 0 forwarders".</summary>
    private static string Counted(PolicyConfig config) => string.Join(", ",
        ObjectTypes.All.Select(t => ConfigJson.Count(config.Objects.Count(o => o.Type == t), t.Name())));
}

/// <summary>The JSON of config problems for `config check --json` and `commit --json`, and
/// counts in words.</summary>
internal static class ConfigJson
{
    /// <summary>"problems": [{"where", "object", "field", "message"}] (null where unknown).</summary>
    public static void WriteProblems(System.Text.Json.Utf8JsonWriter w, IEnumerable<ConfigProblem> problems)
    {
        w.WriteStartArray("problems");
        foreach (var p in problems)
        {
            w.WriteStartObject();
            if (p.Where.Length > 0) w.WriteString("where", p.Where); else w.WriteNull("where");
            if (p.ObjectRef is null) w.WriteNull("object"); else w.WriteString("object", p.ObjectRef);
            if (p.Field is null) w.WriteNull("field"); else w.WriteString("field", p.Field);
            w.WriteString("message", p.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>The API's error shape: {"data": null, "message", "problems": [...]}.</summary>
    public static void WriteFailure(TextWriter output, string message, IEnumerable<ConfigProblem> problems) =>
        Output.Json.Write(output, w =>
        {
            w.WriteStartObject();
            w.WriteNull("data");
            w.WriteString("message", message);
            WriteProblems(w, problems);
            w.WriteEndObject();
        });

    /// <summary>"1 group", "2 groups", "0 assignments".</summary>
    public static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";
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
            config = PendingEdit.ReadExisting(store).Config;
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
