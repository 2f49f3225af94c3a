// A command line that does not parse, said in one line of our words: which command, what is
// wrong with it, the closest command or option when a word is mistyped, and where the help is.
// System.CommandLine's own messages are only the fallback.
using System.CommandLine;
using System.CommandLine.Parsing;

namespace Microseg.Cli;

internal static class UsageErrors
{
    public static string Describe(ParseResult parsed)
    {
        var result = parsed.CommandResult;
        var command = result.Command;
        var path = CommandPath(result);
        var see = $"see '{path} --help'";

        if (parsed.UnmatchedTokens.FirstOrDefault() is { } token)
        {
            if (token.StartsWith('-'))
            {
                var option = Closest(token, OptionNames(result));
                return $"unknown option '{token}' for '{path}'" + (option is null ? "" : $"; did you mean '{option}'?") + $"; {see}";
            }
            if (command.Subcommands.Count > 0)
            {
                var names = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
                return Closest(token, names) is { } suggestion
                    ? $"unknown command '{token}'; did you mean '{suggestion}'? See '{path} {suggestion} --help'"
                    : $"unknown command '{token}' for '{path}' (commands: {string.Join(", ", names)}); {see}";
            }
            return $"unexpected argument '{token}' for '{path}'; {see}";
        }

        if (command.Subcommands.Count > 0 && command.Action is null)
            return $"'{path}' needs a command: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}; {see}";

        // Missing arguments are reported once per argument by System.CommandLine: name them all, once.
        var missing = command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0 && (parsed.GetResult(a) is not { } r || r.Tokens.Count == 0)).ToList();
        if (missing.Count > 0)
            return $"'{path}' needs {string.Join(" and ", missing.Select(a => a.Name))}; {see}";

        var error = parsed.Errors[0];
        if (error.SymbolResult is OptionResult { Tokens.Count: 0, Implicit: false, Option: var o } && o.Arity.MinimumNumberOfValues > 0)
            return $"{o.Name} needs a value; {see}";
        if (command.Options.FirstOrDefault(o => o.Required && parsed.GetResult(o) is not { Implicit: false, Tokens.Count: > 0 }) is { } required)
            return $"'{path}' needs {required.Name}" + (required.Description is { Length: > 0 } d ? $" ({d})" : "") + $"; {see}";
        return $"{error.Message.TrimEnd('.')}; {see}";
    }

    /// <summary>"microseg group add".</summary>
    public static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Insert(0, c.Command is RootCommand ? "microseg" : c.Command.Name);
        return string.Join(' ', names);
    }

    private static List<string> OptionNames(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c)
                foreach (var o in c.Command.Options.Where(o => r == result || o.Recursive))
                    names.AddRange([o.Name, .. o.Aliases]);
        return names;
    }

    /// <summary>The known word nearest to a mistyped one, if it is near enough to be meant.</summary>
    public static string? Closest(string typed, IEnumerable<string> known) =>
        known.Select(k => (Word: k, Distance: Distance(typed, k)))
            .Where(x => x.Distance <= Math.Max(1, Math.Min(2, x.Word.Length / 3)) || (typed.Length >= 3 && x.Word.StartsWith(typed, StringComparison.Ordinal)))
            .OrderBy(x => x.Distance).ThenBy(x => x.Word, StringComparer.Ordinal)
            .Select(x => x.Word).FirstOrDefault();

    /// <summary>Edit distance counting a swap of two neighbours as one edit ("gruop" → "group").</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
