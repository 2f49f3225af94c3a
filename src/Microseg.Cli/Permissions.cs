// Failures that come from not being root, said as such: what needs root, and the option that
// points the command at directories the caller can use instead.
using System.CommandLine;
using System.Text.RegularExpressions;

namespace Microseg.Cli;

internal static partial class Permissions
{
    private const int EPERM = 1;
    private const int EACCES = 13;

    /// <summary>True when the failure is the kernel or the file system refusing us.</summary>
    public static bool IsDenied(Exception e) => e switch
    {
        UnauthorizedAccessException => true,
        Microseg.Bpf.BpfException b => b.Errno is EPERM or EACCES,
        IOException io => io.Message.Contains("Permission denied", StringComparison.Ordinal)
                          || io.Message.Contains("Operation not permitted", StringComparison.Ordinal),
        _ => false,
    };

    /// <summary>One line: what was refused, that the command needs root, and how to avoid it.</summary>
    public static string Explain(Exception e, ParseResult parse)
    {
        var what = e is UnauthorizedAccessException && AccessPath().Match(e.Message) is { Success: true } m
            ? $"permission denied: {m.Groups[1].Value}"
            : e.Message.TrimEnd('.');
        return $"{what}: '{UsageErrors.CommandPath(parse.CommandResult)}' needs root here, {Avoid(parse.CommandResult.Command)}";
    }

    /// <summary>The options that let a command work without root, by what the command touches.</summary>
    public static string Avoid(Command command) =>
        command.Options.Any(o => o.Name == "--bpffs")
            ? "or --bpffs, --run-dir and --config-dir naming directories you can write"
            : "or --config-dir naming a directory you can write";

    /// <summary>Commands that work on the kernel (BPF programs and maps, links, namespaces) and
    /// what they do there, for the message when the caller lacks the capabilities.</summary>
    private static readonly Dictionary<string, string> KernelCommands = new(StringComparer.Ordinal)
    {
        ["microseg apply"] = "it loads BPF programs and attaches them to interfaces",
        ["microseg clear"] = "it detaches BPF programs and removes their pins",
        ["microseg status"] = "reading BPF pins and maps",
        ["microseg lab"] = "it creates network namespaces and loads BPF programs in them",
        ["microseg forwarder lab"] = "it creates network namespaces and loads XDP programs in them",
        ["microseg monitor"] = "it reads the policy programs' events ring and maps",
    };

    /// <summary>Refuses, before anything is tried, a kernel command run without CAP_SYS_ADMIN or
    /// CAP_BPF (every bpf() call would fail with EPERM, and status would show "not loaded" for
    /// what it could not see).</summary>
    public static string? KernelRefusal(ParseResult parse)
    {
        var path = UsageErrors.CommandPath(parse.CommandResult);
        var entry = KernelCommands.FirstOrDefault(k => path == k.Key || path.StartsWith(k.Key + " ", StringComparison.Ordinal));
        if (entry.Key is null || HasKernelCapabilities()) return null;
        var who = $"user {Environment.UserName}";
        return entry.Key == "microseg status"
            ? $"status could not look: {entry.Value} needs root (CAP_BPF or CAP_SYS_ADMIN), and this runs as {who}; run it as root"
            : $"'{path}' needs root: {entry.Value} (CAP_BPF or CAP_SYS_ADMIN, and CAP_NET_ADMIN), and this runs as {who}; " +
              "--bpffs and --run-dir only move where pins and run state live";
    }

    /// <summary>CapEff of this process has CAP_SYS_ADMIN (21) or CAP_BPF (39).</summary>
    private static bool HasKernelCapabilities()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                {
                    var caps = Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16);
                    return (caps & (1UL << 21)) != 0 || (caps & (1UL << 39)) != 0;
                }
        }
        catch (IOException) { }
        return Environment.IsPrivilegedProcess;
    }

    [GeneratedRegex("the path '([^']*)'")]
    private static partial Regex AccessPath();
}
