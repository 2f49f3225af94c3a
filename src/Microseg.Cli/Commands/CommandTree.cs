// The command tree as the man page and the shell completion see it: every visible command with
// its path, its arguments and the options it accepts (its own and those recursive from above).
using System.CommandLine;
using System.CommandLine.Completions;
using System.Text.RegularExpressions;

namespace Microseg.Cli.Commands;

/// <summary>One visible command: "group add" and the command object.</summary>
internal sealed record CommandEntry(string Path, Command Command, IReadOnlyList<Option> Options)
{
    public IEnumerable<Argument> Arguments => Command.Arguments.Where(a => !a.Hidden);

    public IEnumerable<Command> Subcommands => Command.Subcommands.Where(c => !c.Hidden);
}

internal static partial class CommandTree
{
    /// <summary>Every visible command under <paramref name="root"/> (root excluded), depth first,
    /// in declaration order. Each lists its own visible options; recursive options of an ancestor
    /// are in <see cref="GlobalOptions"/>.</summary>
    public static IReadOnlyList<CommandEntry> Commands(RootCommand root)
    {
        var list = new List<CommandEntry>();
        void Walk(Command command, string prefix)
        {
            foreach (var sub in command.Subcommands.Where(c => !c.Hidden))
            {
                var path = prefix.Length == 0 ? sub.Name : $"{prefix} {sub.Name}";
                list.Add(new CommandEntry(path, sub, sub.Options.Where(o => !o.Hidden).ToList()));
                Walk(sub, path);
            }
        }
        Walk(root, "");
        return list;
    }

    /// <summary>The root's visible options: the recursive ones every command takes, plus --help and --version.</summary>
    public static IReadOnlyList<Option> GlobalOptions(RootCommand root) => root.Options.Where(o => !o.Hidden).ToList();

    /// <summary>The root options every command takes (recursive), such as --help and --config-dir.</summary>
    public static IReadOnlyList<Option> InheritedOptions(RootCommand root) => GlobalOptions(root).Where(o => o.Recursive).ToList();

    /// <summary>Every name an option answers to, the long one first; the DOS-style aliases of
    /// --help (/h, /?, -?) are left out: nobody types them on Linux and '?' is a glob.</summary>
    public static IEnumerable<string> Names(Option option) =>
        new[] { option.Name }.Concat(option.Aliases.OrderByDescending(a => a.Length)).Distinct().Where(n => PosixName().IsMatch(n));

    /// <summary>Whether the option is followed by a value (a flag is not).</summary>
    public static bool TakesValue(Option option) => option.Arity.MaximumNumberOfValues > 0 && option.ValueType != typeof(bool);

    /// <summary>The fixed values an option accepts (AcceptOnlyFromAmong), empty when any value goes.</summary>
    public static IReadOnlyList<string> FixedValues(Option option) =>
        TakesValue(option) ? option.GetCompletions(CompletionContext.Empty).Select(c => c.Label).ToList() : [];

    /// <summary>The placeholder shown for an option's value.</summary>
    public static string ValueName(Option option) =>
        option.HelpName ?? option.Name.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    /// <summary>Environment variables named by option descriptions ("[env MICROSEG_X]"), each
    /// with the options that read it.</summary>
    public static IReadOnlyList<(string Variable, IReadOnlyList<Option> Options)> Environment(RootCommand root)
    {
        var options = GlobalOptions(root).Concat(Commands(root).SelectMany(c => c.Options)).Distinct();
        return options
            .SelectMany(o => EnvReference().Matches(o.Description ?? "").Select(m => (Variable: m.Groups[1].Value, Option: o)))
            .GroupBy(x => x.Variable)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, (IReadOnlyList<Option>)g.Select(x => x.Option).Distinct().ToList()))
            .ToList();
    }

    [GeneratedRegex("^--?[A-Za-z]")]
    private static partial Regex PosixName();

    [GeneratedRegex(@"\benv (MICROSEG_[A-Z0-9_]+)")]
    private static partial Regex EnvReference();
}
