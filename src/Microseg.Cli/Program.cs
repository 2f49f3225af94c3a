// The `microseg` executable: parses the command line and turns library errors into one-line
// messages and documented exit codes (0 ok, 1 invalid input or failed operation, 2 usage).
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        // Straight onto fds 1 and 2, not System.Console (see StandardStream).
        using var stdout = Output.StandardStream.Writer(1);
        using var stderr = Output.StandardStream.Writer(2);
        return Run(args, stdout, stderr);
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var io = new Io(stdout, stderr);
        var root = new MicrosegRootCommand(io);
        var parsed = root.Parse(args);
        // `microseg gruop --help` is a mistyped command too, not the root's help.
        if (parsed.Errors.Count > 0 || (parsed.Action is System.CommandLine.Help.HelpAction && parsed.UnmatchedTokens.Count > 0))
        {
            stderr.WriteLine($"microseg: {UsageErrors.Describe(parsed)}");
            return ExitCodes.Usage;
        }
        if (parsed.Action is not System.CommandLine.Help.HelpAction && Permissions.KernelRefusal(parsed) is { } refusal)
        {
            stderr.WriteLine($"microseg: {refusal}");
            return ExitCodes.Invalid;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (ConfigException e)
        {
            foreach (var p in e.Problems) stderr.WriteLine($"microseg: {p}");
            return ExitCodes.Invalid;
        }
        catch (Exception e) when (Permissions.IsDenied(e) && !Environment.IsPrivilegedProcess)
        {
            stderr.WriteLine($"microseg: {Permissions.Explain(e, parsed)}");
            return ExitCodes.Invalid;
        }
        catch (Exception e) when (Microseg.Agent.AgentErrors.IsOperationFailure(e)
                                  || e is DigestConflictException or UserException or ArgumentException or Microseg.Lab.LabException)
        {
            stderr.WriteLine($"microseg: {OneLine(e.Message)}");
            return ExitCodes.Invalid;
        }
    }

    /// <summary>Errors are one line: a message's further lines (a list of problems) join the first.</summary>
    internal static string OneLine(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length <= 1 ? message.Trim() : $"{lines[0]} {string.Join("; ", lines[1..])}";
    }
}

public static class ExitCodes
{
    public const int Ok = 0;
    public const int Invalid = 1;
    public const int Usage = 2;
}

/// <summary>Where a command writes: stdout for results, stderr for errors and notes.</summary>
public sealed record Io(TextWriter Out, TextWriter Err);

/// <summary>A request the user can fix: the CLI prints the message and exits 1.</summary>
public sealed class UserException(string message) : Exception(message);
