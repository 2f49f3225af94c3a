// `microseg help [COMMAND...]`: the same as `microseg COMMAND... --help`.
using System.CommandLine;

namespace Microseg.Cli.Commands;

public sealed class HelpCommand : Command
{
    public HelpCommand(Io io) : base("help", "Show help for a command (the same as COMMAND --help)")
    {
        var words = new Argument<string[]>("COMMAND") { Description = "The command, e.g. 'group add'; none: every command", Arity = ArgumentArity.ZeroOrMore };
        Arguments.Add(words);
        SetAction(parse => Program.Run([.. parse.GetValue(words) ?? [], "--help"], io.Out, io.Err));
    }
}
