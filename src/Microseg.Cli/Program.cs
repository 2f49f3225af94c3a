// The `microseg` executable: parses the command line and turns library errors into one-line
// messages and documented exit codes (0 ok, 1 invalid input or failed operation, 2 usage).
using System.CommandLine;
using Microseg.Policy;

namespace Microseg.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var io = new Io(stdout, stderr);
        var root = new MicrosegRootCommand(io);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) stderr.WriteLine($"microseg: {error.Message}");
            stderr.WriteLine("see 'microseg --help'");
            return ExitCodes.Usage;
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
        catch (Exception e) when (Microseg.Agent.AgentErrors.IsOperationFailure(e)
                                  || e is DigestConflictException or UserException or ArgumentException or Microseg.Lab.LabException)
        {
            stderr.WriteLine($"microseg: {e.Message}");
            return ExitCodes.Invalid;
        }
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
