// Config errors: each names where (file:line or the object) and what is wrong.
namespace Microseg.Policy;

/// <summary>One problem in a configuration. Where is "file:line", "file" or empty; Field is the
/// property it is about ("mark", "parent", "src", ...), null when it is about the object as a
/// whole (its id) or the file.</summary>
public sealed record ConfigProblem(string Where, string? ObjectRef, string Message, string? Field = null)
{
    /// <summary>The same problem wherever it stands (an edit moves lines): what editors compare.</summary>
    public ConfigProblem Unplaced => this with { Where = "" };

    public override string ToString()
    {
        var parts = new List<string>(3);
        if (Where.Length > 0) parts.Add(Where);
        if (ObjectRef is not null) parts.Add(ObjectRef);
        parts.Add(Message);
        return string.Join(": ", parts);
    }

    public static string Describe(ObjectType type, string id) => $"{type.Name()} '{Text.Clip(id)}'";
}

/// <summary>A configuration that cannot be used; carries every problem found.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigProblem> problems)
        : base(problems.Count == 1 ? problems[0].ToString() : $"{problems.Count} problems:\n  " + string.Join("\n  ", problems))
    {
        Problems = problems;
    }

    public ConfigException(string where, string message) : this([new ConfigProblem(where, null, message)]) { }

    public IReadOnlyList<ConfigProblem> Problems { get; }
}

/// <summary>The pending config changed since the digest the edit was based on. Path is how
/// the store names the pending config (the file, for the directory store).</summary>
public sealed class DigestConflictException(string path, string expected, string actual)
    : Exception($"{path} changed since it was read (digest {Text.Clip(expected, 16)}, now {(actual.Length > 16 ? actual[..16] : actual)}): re-read it and apply the edit again")
{
    public string Path { get; } = path;
    public string Expected { get; } = expected;
    public string Actual { get; } = actual;
}

/// <summary>Keeps user text short in messages.</summary>
public static class Text
{
    /// <summary>Keeps user text short in messages (a 10 MB line must not become a 10 MB error).
    /// Control characters are shown escaped (\u000a), so that a message stays one line and
    /// cannot drive a terminal.</summary>
    public static string Clip(string s, int max = 64)
    {
        var clipped = s.Length <= max ? s : string.Concat(s.AsSpan(0, max), "…");
        if (!clipped.Any(char.IsControl)) return clipped;
        var sb = new System.Text.StringBuilder(clipped.Length + 16);
        foreach (var c in clipped)
            if (char.IsControl(c)) sb.Append($"\\u{(int)c:x4}"); else sb.Append(c);
        return sb.ToString();
    }
}
