// The README's shell examples are what the CLI prints: every ``` block with `$ microseg ...`
// lines for config editing, explain, matrix, commit and check is run, in order, in a fresh
// config directory, and its output compared with the README's text exactly (the directory's
// path is shown as /etc/microseg). Blocks that need root and a lab, or print a secret, are
// excluded by the command they run, each with its reason below.
using System.Text;
using Microseg.TestSupport;

namespace Microseg.Cli.Tests;

public sealed class ReadmeExampleTests
{
    /// <summary>Commands whose examples are not run here, and why.</summary>
    private static readonly Dictionary<string, string> Excluded = new()
    {
        ["apply"] = "needs root, BPF and a lab host; the same output is checked by the lab kernel tests and `make demo`",
        ["status"] = "needs root and loaded programs; program ids and fingerprints vary",
        ["clear"] = "needs root and loaded programs",
        ["stats"] = "needs root, loaded programs and traffic; the counts are checked exactly by the lab kernel tests (CounterTests)",
        ["serve"] = "a long-running server; covered by Microseg.Api.Tests (ServeProcessTests)",
        ["token"] = "prints a random secret",
        ["forwarder lab"] = "needs root and network namespaces",
        ["lab"] = "needs root and network namespaces",
        ["monitor"] = "needs root, loaded programs and live traffic; its output is checked by the monitor kernel tests",
    };

    /// <summary>What a block's config directory holds before its first command, by that command.</summary>
    private static readonly Dictionary<string, string> Setup = new()
    {
        ["config check"] = "group: a\n\tmark 1\n\tcolour red\n\nrule: x\n\tdst a\n",
    };

    public sealed record Example(int Line, string Command, string[] Args, string Expected);

    public sealed record Block(int Line, List<Example> Examples)
    {
        public override string ToString() => $"README.md:{Line}: {Examples[0].Command}";
    }

    private static List<Block> Blocks()
    {
        var lines = File.ReadAllLines(Path.Combine(RepoPaths.Root, "README.md"));
        var blocks = new List<Block>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal)) continue;
            var start = i;
            var body = new List<(int, string)>();
            for (i++; i < lines.Length && !lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal); i++) body.Add((i + 1, lines[i]));
            if (!body.Any(b => b.Item2.StartsWith("$ microseg ", StringComparison.Ordinal))) continue;
            var examples = new List<Example>();
            foreach (var (number, text) in body)
            {
                if (text.StartsWith("$ ", StringComparison.Ordinal))
                {
                    var command = text[2..];
                    var comment = command.IndexOf(" #", StringComparison.Ordinal);
                    if (comment >= 0) command = command[..comment].TrimEnd();
                    examples.Add(new Example(number, command, Words(command), ""));
                }
                else if (examples.Count > 0)
                    examples[^1] = examples[^1] with { Expected = examples[^1].Expected + text + "\n" };
            }
            blocks.Add(new Block(start + 1, examples));
        }
        return blocks;
    }

    /// <summary>Shell words: spaces separate, single and double quotes group.</summary>
    private static string[] Words(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        foreach (var c in command)
        {
            if (quote != '\0') { if (c == quote) quote = '\0'; else word.Append(c); continue; }
            if (c is '\'' or '"') { quote = c; inWord = true; continue; }
            if (c == ' ') { if (inWord) words.Add(word.ToString()); word.Clear(); inWord = false; continue; }
            word.Append(c); inWord = true;
        }
        if (inWord) words.Add(word.ToString());
        return [.. words];
    }

    private static string? ExclusionOf(Block block)
    {
        foreach (var e in block.Examples)
        {
            if (e.Command.Contains("etcd://", StringComparison.Ordinal))
                return "needs a running etcd; the etcd store's commands are run against real etcd members by Microseg.Etcd.Tests";
            var args = e.Args[1..];
            if (args.Length >= 2 && Excluded.TryGetValue($"{args[0]} {args[1]}", out var two)) return two;
            if (args.Length >= 1 && Excluded.TryGetValue(args[0], out var one)) return one;
        }
        return null;
    }

    public static TheoryData<int> RunnableBlocks() => [.. Blocks().Where(b => ExclusionOf(b) is null).Select(b => b.Line)];

    [Fact]
    public void The_README_has_runnable_examples_of_editing_explain_matrix_commit_and_check()
    {
        var run = Blocks().Where(b => ExclusionOf(b) is null).SelectMany(b => b.Examples).Select(e => e.Args[1]).ToHashSet();
        foreach (var command in new[] { "group", "rule", "assignment", "explain", "matrix", "commit", "config", "forwarder" })
            Assert.Contains(command, run);
    }

    [Theory]
    [MemberData(nameof(RunnableBlocks))]
    public void A_README_example_prints_what_the_README_shows(int line)
    {
        var block = Blocks().Single(b => b.Line == line);
        using var dir = new ConfigDir();
        if (Setup.TryGetValue(string.Join(' ', block.Examples[0].Args[1..]), out var text)) dir.WithPending(text);
        foreach (var example in block.Examples)
        {
            Assert.Equal("microseg", example.Args[0]);
            var r = dir.Run(example.Args[1..]);
            var printed = (r.Out + r.Err).Replace(dir.Path, "/etc/microseg", StringComparison.Ordinal);
            Assert.True(example.Expected == printed,
                $"README.md:{example.Line}: $ {example.Command}\n--- README shows:\n{example.Expected}--- microseg printed (exit {r.Exit}):\n{printed}");
        }
    }
}
