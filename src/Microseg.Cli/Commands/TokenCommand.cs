// `microseg token add|list|del`: API tokens for `microseg serve`, kept by the config store.
using System.CommandLine;
using System.Globalization;
using Microseg.Api.Auth;

namespace Microseg.Cli.Commands;

public sealed class TokenCommand : Command
{
    public TokenCommand(Io io) : base("token", "Manage API tokens (Authorization: PVEAPIToken=USER@REALM!NAME=SECRET)")
    {
        Subcommands.Add(Add(io));
        Subcommands.Add(List(io));
        Subcommands.Add(Delete(io));
    }

    private static TokenStore Store(ParseResult parse) => new(MicrosegRootCommand.Store(parse));

    /// <summary>The token store's errors are the user's to fix: one line, exit 1.</summary>
    private static int Run(Func<int> action)
    {
        try { return action(); }
        catch (TokenStoreException e) { throw new UserException(e.Message); }
    }

    private static Command Add(Io io)
    {
        var cmd = new Command("add", "Add a token and print its secret on stdout (shown this once; only its hash is stored)");
        var id = new Argument<string>("USER@REALM!NAME") { Description = "Token id, e.g. root@pam!ui" };
        var privileges = new Option<string>("--privileges")
        {
            Description = $"{Privileges.AuditName} (read), {Privileges.AllocateName} (write), or both comma-separated",
            Required = true,
        };
        var comment = new Option<string?>("--comment") { Description = "Free text, e.g. what the token is for" };
        cmd.Arguments.Add(id);
        cmd.Options.Add(privileges); cmd.Options.Add(comment);
        cmd.SetAction(parse => Run(() =>
        {
            var name = parse.GetValue(id)!;
            var granted = Privileges.Parse(parse.GetValue(privileges)!);
            var secret = Store(parse).Add(name, granted, parse.GetValue(comment));
            io.Out.WriteLine(secret);
            io.Err.WriteLine($"microseg: added token {name} ({Privileges.Format(granted)}); the secret above is not shown again. " +
                $"Use it as 'Authorization: PVEAPIToken={name}=SECRET'");
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static Command List(Io io)
    {
        var cmd = new Command("list", "List tokens (ids and privileges; secrets are not stored)");
        var json = new Option<bool>("--json") { Description = "JSON output: {\"data\": [{id, privileges, created, comment}]}" };
        cmd.Options.Add(json);
        cmd.SetAction(parse => Run(() =>
        {
            var tokens = Store(parse).List();
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("data");
                    foreach (var t in tokens)
                    {
                        w.WriteStartObject();
                        w.WriteString("id", t.Id);
                        w.WriteStartArray("privileges");
                        foreach (var p in t.Privileges.Order()) w.WriteStringValue(p.Name());
                        w.WriteEndArray();
                        w.WriteString("created", t.Created);
                        if (t.Comment is null) w.WriteNull("comment"); else w.WriteString("comment", t.Comment);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                });
                return ExitCodes.Ok;
            }
            var table = new Output.Table("TOKEN", "PRIVILEGES", "CREATED", "COMMENT");
            foreach (var t in tokens)
                table.Row(t.Id, Privileges.Format(t.Privileges), t.Created.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture), t.Comment);
            table.WriteTo(io.Out);
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static Command Delete(Io io)
    {
        var cmd = new Command("del", "Delete a token: requests with it fail from now on");
        var id = new Argument<string>("USER@REALM!NAME") { Description = "Token id, e.g. root@pam!ui" };
        cmd.Arguments.Add(id);
        cmd.SetAction(parse => Run(() =>
        {
            var name = parse.GetValue(id)!;
            if (!Store(parse).Remove(name)) throw new UserException($"token '{name}' does not exist");
            io.Out.WriteLine($"deleted token {name}");
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
