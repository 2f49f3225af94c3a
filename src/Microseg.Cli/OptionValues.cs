// How the CLI reads option values that are not free text: whole numbers and fixed choices. One
// place, so that every command refuses a bad value in the same plain words ("--mark must be a
// whole number 1..65535") instead of System.CommandLine's .NET type names.
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Microseg.Cli;

internal static class OptionValues
{
    /// <summary>An option taking a whole number. The range is the one the help and the error
    /// name; the domain checks it again with its own message, so only the format is refused
    /// here (a number too large for the type also is).</summary>
    public static Option<int> Int(string name, int min, int max, string description) =>
        new(name) { Description = description, CustomParser = r => Number(r, name, min, max, int.MinValue, int.MaxValue) is { } n ? (int)n : 0 };

    public static Option<int?> OptionalInt(string name, int min, int max, string description) =>
        new(name) { Description = description, CustomParser = r => Number(r, name, min, max, int.MinValue, int.MaxValue) is { } n ? (int)n : null };

    public static Option<long> Long(string name, long min, long max, string description, bool required = false) =>
        new(name) { Description = description, Required = required, CustomParser = r => Number(r, name, min, max, long.MinValue, long.MaxValue) ?? 0 };

    /// <summary>Restricts an option to fixed words; help shows them as &lt;a|b&gt;.</summary>
    public static Option<T> OneOf<T>(this Option<T> option, params string[] words)
    {
        option.CompletionSources.Add(words);
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
                if (!words.Contains(token.Value, StringComparer.Ordinal))
                {
                    result.AddError($"{option.Name} must be {Words(words)} (got '{token.Value}')");
                    return;
                }
        });
        return option;
    }

    /// <summary>"a", "a or b", "a, b or c".</summary>
    public static string Words(IReadOnlyList<string> words) =>
        words.Count == 1 ? words[0] : $"{string.Join(", ", words.Take(words.Count - 1))} or {words[^1]}";

    private static long? Number(ArgumentResult result, string name, long min, long max, long typeMin, long typeMax)
    {
        if (result.Tokens.Count == 0) return null;
        var text = result.Tokens[^1].Value;
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= typeMin && n <= typeMax)
            return n;
        result.AddError($"{name} must be a whole number {min}..{max} (got '{text}')");
        return null;
    }
}
