// Syntax of the names a config uses: groups, Linux interfaces, cluster nodes.
using System.Text.RegularExpressions;

namespace Microseg.Policy;

public static partial class Names
{
    /// <summary>The word that stands for mark 0 on the command line and in the API.</summary>
    public const string Untagged = "untagged";

    public const int MinMark = 1, MaxMark = 65535;
    public const long MinVmid = 100, MaxVmid = 999_999_999;
    public const long MinIface = 0, MaxIface = 31;

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
    private static partial Regex GroupNameRegex();

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")]
    private static partial Regex NodeNameRegex();

    public static bool IsGroupName(string s) => GroupNameRegex().IsMatch(s);

    public static bool IsNodeName(string s) => NodeNameRegex().IsMatch(s);

    /// <summary>Linux's dev_valid_name: 1..15 bytes, not "." or "..", no '/', ':' or whitespace.</summary>
    public static bool IsInterfaceName(string s) =>
        s.Length is >= 1 and <= 15 && s != "." && s != ".." &&
        !s.Any(c => c == '/' || c == ':' || char.IsWhiteSpace(c) || char.IsControl(c) || c > 0x7e);

    /// <summary>Why a group cannot have this mark, or null (1..65535; 0 means untagged).</summary>
    public static string? MarkProblem(long mark) =>
        mark is >= MinMark and <= MaxMark ? null
        : mark == 0 ? "mark 0 is reserved for untagged traffic (use 1..65535)"
        : $"mark {mark} is out of range 1..65535";

    public static string? GroupNameProblem(string s) =>
        IsGroupName(s)
            ? s == Untagged ? $"'{Untagged}' is reserved (it names mark 0)" : null
            : $"invalid group name '{Text.Clip(s)}' (a letter, then up to 63 letters, digits, '_' or '-')";

    /// <summary>Forwarder names follow the group-name rules.</summary>
    public static string? ForwarderNameProblem(string s) =>
        IsGroupName(s) ? null : $"invalid forwarder name '{Text.Clip(s)}' (a letter, then up to 63 letters, digits, '_' or '-')";

    public static string? InterfaceNameProblem(string s) =>
        IsInterfaceName(s) ? null : $"invalid interface name '{Text.Clip(s)}' (1..15 characters, no '/', ':' or whitespace)";

    /// <summary>The longest comment, in characters (Unicode scalar values): Proxmox caps its
    /// description-like `comment` properties (HA groups and resources, replication jobs) at
    /// maxLength 4096, which its schema check counts in characters.</summary>
    public const int MaxCommentLength = 4096;

    /// <summary>Why a value cannot stand in the section-config file, or null. The file is one
    /// property per line, tab-indented: a newline would start another line (or a section) and
    /// a tab inside a value reads as a separator, so no value or id holds a control character
    /// (C0 including tab, DEL, C1).</summary>
    public static string? ControlProblem(string field, string value)
    {
        var at = value.AsSpan().IndexOfAnyInRange('\u0000', '\u001f');
        if (at < 0) at = value.AsSpan().IndexOfAnyInRange('\u007f', '\u009f');
        return at < 0 ? null
            : $"{field} must be one line of text without control characters (U+{(int)value[at]:X4} at offset {at})";
    }

    /// <summary>Why a comment is too long, or null.</summary>
    public static string? CommentLengthProblem(string comment)
    {
        if (comment.Length <= MaxCommentLength) return null; // UTF-16 units never undercount
        var characters = comment.EnumerateRunes().Count();
        return characters <= MaxCommentLength ? null : $"comment is {characters} characters long; the limit is {MaxCommentLength}";
    }

    public static string? NodeNameProblem(string s) =>
        IsNodeName(s) ? null : $"invalid node name '{Text.Clip(s)}' (letters, digits and '-', up to 63, not starting or ending with '-')";
}
