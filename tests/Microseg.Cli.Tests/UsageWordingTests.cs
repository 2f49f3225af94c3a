// What a new user sees when a command line is wrong: plain words for bad values, the closest
// command for a typo, `help COMMAND`, descriptions everywhere, one default in help, options only
// where they mean something, and every error as one line with a documented exit code.
using System.CommandLine;

namespace Microseg.Cli.Tests;

public sealed class UsageWordingTests : IDisposable
{
    private readonly ConfigDir dir = new ConfigDir().WithPending("group: db\n\tmark 20\n\ngroup: web\n\tmark 10\n");

    public void Dispose() => dir.Dispose();

    private static RootCommand Tree() => new MicrosegRootCommand(new Io(TextWriter.Null, TextWriter.Null));

    private static IEnumerable<(string Path, Command Command)> Commands()
    {
        var stack = new Stack<(string, Command)>([("microseg", Tree())]);
        while (stack.Count > 0)
        {
            var (path, command) = stack.Pop();
            yield return (path, command);
            foreach (var sub in command.Subcommands) stack.Push(($"{path} {sub.Name}", sub));
        }
    }

    [Theory]
    [InlineData("microseg: --mark must be a whole number 1..65535 (got 'ten'); see 'microseg group add --help'", "group", "add", "web", "--mark", "ten")]
    [InlineData("microseg: --mark must be a whole number 1..65535 (got '99999999999'); see 'microseg group set --help'", "group", "set", "web", "--mark", "99999999999")]
    [InlineData("microseg: --vmid must be a whole number 100..999999999 (got 'x'); see 'microseg assignment add --help'", "assignment", "add", "--vmid", "x", "--iface", "0", "--group", "web")]
    [InlineData("microseg: --iface must be a whole number 0..31 (got '1.5'); see 'microseg assignment add --help'", "assignment", "add", "--vmid", "100", "--iface", "1.5", "--group", "web")]
    [InlineData("microseg: --outsides must be a whole number 1..50 (got 'two'); see 'microseg forwarder lab up --help'", "forwarder", "lab", "up", "--outsides", "two")]
    [InlineData("microseg: --action must be allow or deny (got 'maybe'); see 'microseg rule add --help'", "rule", "add", "--dst", "web", "--action", "maybe")]
    [InlineData("microseg: --delete must be parent, comment, stateful, infra or audit (got 'mark'); see 'microseg group set --help'", "group", "set", "web", "--delete", "mark")]
    [InlineData("microseg: --mode must be skb or native (got 'fast'); see 'microseg forwarder add --help'", "forwarder", "add", "f", "--router", "r", "--physical", "p", "--mode", "fast")]
    public void Bad_values_are_refused_in_plain_words(string expected, params string[] args)
    {
        var r = dir.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.Equal(expected + "\n", r.Err);
    }

    [Fact]
    public void Every_numeric_option_reads_its_value_with_our_words()
    {
        var checkedOptions = 0;
        foreach (var (path, command) in Commands())
            foreach (var option in command.Options)
            {
                var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
                if (type == typeof(string) || type == typeof(string[]) || type == typeof(bool) || type == typeof(void)) continue;
                Assert.True(type == typeof(int) || type == typeof(long), $"{path} {option.Name}: a {type} option needs a reader in OptionValues");
                Assert.True(option.GetType().GetProperty("CustomParser")!.GetValue(option) is not null,
                    $"{path} {option.Name} is parsed by System.CommandLine, whose errors name .NET types: declare it with OptionValues");
                checkedOptions++;
            }
        Assert.True(checkedOptions >= 6, $"only {checkedOptions} numeric options found");
    }

    [Theory]
    [InlineData("microseg: unknown command 'gruop'; did you mean 'group'? See 'microseg group --help'", "gruop", "list")]
    [InlineData("microseg: unknown command 'gruop'; did you mean 'group'? See 'microseg group --help'", "gruop", "--help")]
    [InlineData("microseg: unknown command 'lsit'; did you mean 'list'? See 'microseg group list --help'", "group", "lsit")]
    [InlineData("microseg: unknown command 'comit'; did you mean 'commit'? See 'microseg commit --help'", "comit")]
    [InlineData("microseg: unknown command 'frobnicate' for 'microseg group' (commands: add, set, del, list); see 'microseg group --help'", "group", "frobnicate")]
    [InlineData("microseg: unknown option '--jsno' for 'microseg group list'; did you mean '--json'?; see 'microseg group list --help'", "group", "list", "--jsno")]
    [InlineData("microseg: unknown command 'gruop'; did you mean 'group'? See 'microseg group --help'", "help", "gruop")]
    public void A_mistyped_word_gets_the_closest_one(string expected, params string[] args)
    {
        var r = dir.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.Equal(expected + "\n", r.Err);
    }

    [Theory]
    [InlineData]
    [InlineData("group")]
    [InlineData("group", "add")]
    [InlineData("forwarder", "lab", "up")]
    public void Help_COMMAND_is_COMMAND_help(params string[] words)
    {
        var help = Cli.Run(["help", .. words]);
        var option = Cli.Run([.. words, "--help"]);
        Assert.True(help.Exit == 0, help.ToString());
        Assert.Equal("", help.Err);
        Assert.Equal(option.Out, help.Out);
        Assert.Contains("Usage:", help.Out);
    }

    [Fact]
    public void Every_option_and_argument_has_a_description()
    {
        var missing = new List<string>();
        foreach (var (path, command) in Commands())
        {
            if (string.IsNullOrWhiteSpace(command.Description)) missing.Add(path);
            foreach (var option in command.Options.Where(o => string.IsNullOrWhiteSpace(o.Description))) missing.Add($"{path} {option.Name}");
            foreach (var argument in command.Arguments.Where(a => string.IsNullOrWhiteSpace(a.Description))) missing.Add($"{path} {argument.Name}");
        }
        Assert.Empty(missing);
    }

    [Theory]
    [InlineData("apply")]
    [InlineData("status")]
    [InlineData("clear")]
    [InlineData("serve")]
    public void Node_shows_one_default(string command)
    {
        var help = Cli.Run(command, "--help").Out;
        var node = string.Join(" ", help.Split('\n').SkipWhile(l => !l.TrimStart().StartsWith("--node", StringComparison.Ordinal))
            .TakeWhile((l, i) => i == 0 || !l.TrimStart().StartsWith('-')).Select(l => l.Trim()));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(node, "default"));
    }

    [Fact]
    public void Running_config_only_where_a_committed_snapshot_is_read_or_written()
    {
        var with = Commands().Where(c => c.Command.Options.Any(o => o.Name == "--running-config")).Select(c => c.Path).Order().ToList();
        Assert.Equal(["microseg agent", "microseg apply", "microseg commit", "microseg explain", "microseg matrix", "microseg serve", "microseg status"], with);
        Assert.DoesNotContain("--running-config", Cli.Run("group", "list", "--help").Out);
        var r = dir.Run("group", "list", "--running-config", "/nonexistent");
        Assert.Equal(2, r.Exit);
    }

    [Fact]
    public void Running_config_still_works_where_it_is_declared()
    {
        dir.Ok("commit");
        var elsewhere = Path.Combine(dir.Path, "elsewhere.json");
        File.Copy(dir.RunningPath, elsewhere);
        File.Delete(dir.RunningPath);
        Assert.Contains("web", dir.Ok("matrix", "--running-config", elsewhere).Out);
        Assert.Equal("db", dir.Ok("explain", "db", "web", "--json", "--running-config", elsewhere).Json().GetProperty("src").GetString());
    }

    [Theory]
    [InlineData("microseg: 'microseg explain' needs SRC and DST; see 'microseg explain --help'", "explain")]
    [InlineData("microseg: 'microseg explain' needs DST; see 'microseg explain --help'", "explain", "db")]
    [InlineData("microseg: 'microseg group add' needs NAME; see 'microseg group add --help'", "group", "add")]
    [InlineData("microseg: 'microseg rule add' needs --action (allow or deny); see 'microseg rule add --help'", "rule", "add", "--dst", "web")]
    [InlineData("microseg: 'microseg group' needs a command: add, set, del, list; see 'microseg group --help'", "group")]
    public void A_missing_argument_is_said_once(string expected, params string[] args)
    {
        var r = dir.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.Equal(expected + "\n", r.Err);
    }

    /// <summary>Bad invocations of every kind, each with the exit code the README documents
    /// (1 invalid input or failed operation, 2 usage).</summary>
    public static TheoryData<int, string[]> BadInvocations() => new()
    {
        { 2, [] },
        { 2, ["frobnicate"] },
        { 2, ["group", "add", "web", "--colour", "red"] },
        { 2, ["explain", "db", "web", "extra"] },
        { 2, ["assignment", "add", "--vmid", "100", "--group", "web"] },
        { 2, ["token", "add", "root@pam!x"] },
        { 2, ["lab", "up", "a", "b"] },
        { 1, ["group", "add", "web"] },
        { 1, ["group", "add", "9lives"] },
        { 1, ["group", "add", "app", "--mark", "0"] },
        { 1, ["group", "del", "nope"] },
        { 1, ["group", "set", "web", "--parent", "nope"] },
        { 2, ["group", "add", "x", "--digest", "0000"] }, // a malformed digest is a usage error
        { 1, ["rule", "add", "--dst", "nope", "--action", "allow"] },
        { 1, ["rule", "set", "p1-2", "--action", "deny"] },
        { 1, ["assignment", "add", "--vmid", "1", "--iface", "0", "--group", "web"] },
        { 1, ["assignment", "add", "--vmid", "100", "--iface", "0", "--group", "nope"] },
        { 1, ["bridge", "add", "this-name-is-far-too-long"] },
        { 1, ["bridge", "add", "br0", "--nodes", "a,,b"] },
        { 1, ["forwarder", "add", "f0", "--router", "r0", "--physical", "p,,q"] },
        { 1, ["explain", "nope", "web"] },
        { 1, ["explain", "db", "web", "--running"] },
        { 1, ["matrix", "--running"] },
        { 1, ["token", "del", "root@pam!nope"] },
        { 1, ["token", "add", "bad", "--privileges", "SDN.Audit"] },
        { 1, ["token", "add", "root@pam!x", "--privileges", "Nope"] },
        { 1, ["lab", "up", "/nonexistent/lab.json"] },
        { 1, ["apply", "--running-config", "/nonexistent/running.json"] },
        { 1, ["group", "add", "app", "--comment", "two\nlines"] },
    };

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public void Every_failure_is_one_line_with_a_documented_exit_code(int exit, string[] args)
    {
        var r = dir.Run(args);
        Assert.True(r.Exit == exit, $"microseg {string.Join(' ', args)}: expected exit {exit}, {r}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("microseg: ", StringComparison.Ordinal) && r.Err.EndsWith('\n'),
            $"microseg {string.Join(' ', args)}: stderr is not one 'microseg: ...' line: {r}");
        Assert.DoesNotContain("System.", r.Err);
    }

    [Fact]
    public void An_edit_that_would_add_several_problems_is_refused_in_one_line()
    {
        dir.WithPending("group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n\nrule: p20-10\n\tsrc db\n\tdst web\n\taction allow\n\nrule: p10-20\n\tsrc web\n\tdst db\n\taction allow\n");
        var r = dir.Refused("group", "del", "web");
        Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
