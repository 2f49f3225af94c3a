// `microseg generate man|completion bash`: hidden from help; `make deb` runs them on the built
// binary so the man page and the completion always match the command tree they ship with.
using System.CommandLine;

namespace Microseg.Cli.Commands;

public sealed class GenerateCommand : Command
{
    public GenerateCommand(Io io) : base("generate", "Write the man page or the shell completion generated from the command tree (for packaging)")
    {
        Hidden = true;

        var man = new Command("man", "Write microseg(8) in roff to stdout");
        var version = new Option<string>("--package-version") { Description = "Version shown in the page footer", DefaultValueFactory = _ => "" };
        man.Options.Add(version);
        man.SetAction(parse =>
        {
            ManPageWriter.Write(io.Out, (RootCommand)parse.RootCommandResult.Command, parse.GetValue(version) is { Length: > 0 } v ? v : Version());
            return ExitCodes.Ok;
        });
        Subcommands.Add(man);

        var completion = new Command("completion", "Write a shell completion script to stdout");
        var shell = new Argument<string>("SHELL") { Description = "The shell (bash)" };
        shell.AcceptOnlyFromAmong("bash");
        completion.Arguments.Add(shell);
        completion.SetAction(parse =>
        {
            BashCompletionWriter.Write(io.Out, (RootCommand)parse.RootCommandResult.Command);
            return ExitCodes.Ok;
        });
        Subcommands.Add(completion);
    }

    private static string Version() =>
        typeof(GenerateCommand).Assembly.GetName().Version?.ToString(3) ?? "0";
}
