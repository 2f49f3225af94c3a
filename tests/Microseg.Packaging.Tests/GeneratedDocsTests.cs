// The man page and the bash completion are generated from the command tree: every visible
// command and option must be in them (walked here independently through System.CommandLine's
// public model), the page must render without a groff warning, and the generator stays hidden.
using System.CommandLine;
using System.Text.RegularExpressions;
using Microseg.Cli;
using Microseg.TestSupport;

namespace Microseg.Packaging.Tests;

public class GeneratedDocsTests
{
    private static readonly RootCommand Root = new MicrosegRootCommand(new Io(TextWriter.Null, TextWriter.Null));

    /// <summary>(path, command) for every visible command below the root.</summary>
    private static List<(string Path, Command Command)> Commands()
    {
        var list = new List<(string, Command)>();
        void Walk(Command c, string prefix)
        {
            foreach (var s in c.Subcommands.Where(s => !s.Hidden))
            {
                var path = (prefix + " " + s.Name).Trim();
                list.Add((path, s));
                Walk(s, path);
            }
        }
        Walk(Root, "");
        return list;
    }

    private static IEnumerable<string> OptionNames(Option o) =>
        new[] { o.Name }.Concat(o.Aliases).Where(n => Regex.IsMatch(n, "^--?[A-Za-z]"));

    private static string Generate(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = Program.Run(args, stdout, stderr);
        Assert.True(exit == 0, $"microseg {string.Join(' ', args)}: exit {exit}: {stderr}");
        return stdout.ToString();
    }

    /// <summary>The page as plain text, split into its subsections by their .SS header.</summary>
    private static Dictionary<string, string> ManSections(string roff)
    {
        static string Plain(string s) => Regex.Replace(s, @"\\f[BIRP]", "").Replace("\\-", "-").Replace("\\e", "\\").Replace("\\&", "");
        var sections = new Dictionary<string, string>();
        string? header = null;
        var body = new List<string>();
        foreach (var line in roff.Split('\n').Append(".SH END"))
        {
            if (line.StartsWith(".SS ") || line.StartsWith(".SH "))
            {
                if (header is not null) sections[header] = string.Join('\n', body);
                header = Plain(line[4..].Trim('"', ' '));
                body.Clear();
            }
            else body.Add(Plain(line));
        }
        return sections;
    }

    [Fact]
    public void The_man_page_has_every_command_with_its_arguments_and_options()
    {
        var sections = ManSections(Generate("generate", "man", "--package-version", "9.9.9"));
        var commands = Commands();
        Assert.True(commands.Count > 40, $"the walk found the tree ({commands.Count} commands)");
        Assert.Contains(commands, c => c.Path == "apply" && c.Command.Arguments.Count == 1);
        foreach (var (path, command) in commands)
        {
            // The header is the path, then placeholders (ARG, [ARG], COMMAND, [options]), never a subcommand.
            var header = sections.Keys.SingleOrDefault(h => h.StartsWith($"microseg {path}") &&
                h[$"microseg {path}".Length..] is var rest && (rest.Length == 0 || rest[0] == ' ' && (rest[1] == '[' || char.IsUpper(rest[1]))));
            Assert.True(header is not null, $"no section for 'microseg {path}'");
            var body = header + "\n" + sections[header];
            Assert.Contains(command.Description!.Split('\n')[0].Trim(), body);
            foreach (var a in command.Arguments.Where(a => !a.Hidden))
                Assert.True(body.Contains(a.HelpName ?? a.Name), $"'microseg {path}': argument {a.Name} missing");
            foreach (var o in command.Options.Where(o => !o.Hidden))
                foreach (var name in OptionNames(o))
                    Assert.True(Regex.IsMatch(body, $@"(^|[\s,]){Regex.Escape(name)}([\s,]|$)", RegexOptions.Multiline),
                        $"'microseg {path}': option {name} missing from its section");
        }
        foreach (var o in Root.Options.Where(o => !o.Hidden))
            foreach (var name in OptionNames(o))
                Assert.Contains(name, sections["GLOBAL OPTIONS"]);
        foreach (var required in new[] { "NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "ENVIRONMENT", "FILES", "EXIT STATUS" })
            Assert.True(sections.ContainsKey(required), $"section {required} missing");
        foreach (var variable in new[] { "MICROSEG_BPFFS", "MICROSEG_RUN_DIR", "MICROSEG_NODE", "MICROSEG_CONFIG_DIR" })
            Assert.Contains(variable, sections["ENVIRONMENT"]);
        Assert.DoesNotContain("generate", string.Join('\n', sections.Keys));
    }

    [Fact]
    public void The_generator_is_hidden_from_help()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, Program.Run(["--help"], stdout, new StringWriter()));
        Assert.Contains("apply", stdout.ToString());
        Assert.DoesNotContain("generate", stdout.ToString());
    }

    [Fact]
    public void Man_renders_the_page_without_warnings()
    {
        using var dir = new TempDirectory();
        var page = dir.File("microseg.8");
        File.WriteAllText(page, Generate("generate", "man"));
        var r = Sh.Run("man", ["--warnings", "-l", page], new Dictionary<string, string?> { ["MANWIDTH"] = "80", ["MANPAGER"] = "cat", ["PAGER"] = "cat" });
        Assert.True(r.Exit == 0, r.ToString());
        Assert.True(r.Err.Length == 0, $"man --warnings: {r.Err}");
        Assert.Contains("EXIT STATUS", r.Out);
        Assert.Contains("microseg apply [IFACE] [options]", r.Out);
        Assert.All(r.Out.Split('\n'), line => Assert.True(line.Length <= 80, $"line wider than MANWIDTH: {line}"));
    }

    [Fact]
    public void Bash_completes_every_command_and_its_options()
    {
        using var dir = new TempDirectory();
        var script = dir.File("microseg.bash");
        File.WriteAllText(script, Generate("generate", "completion", "bash"));
        Assert.True(Sh.Run("bash", "-n", script).Exit == 0, "the completion script parses");

        // One bash: for each command path, the completion of the empty word after it.
        var commands = Commands();
        var driver = new System.Text.StringBuilder($"source {script}\n");
        foreach (var (path, _) in commands.Prepend(("", Root)))
        {
            var words = string.Join(' ', ("microseg " + path).Trim().Split(' ').Select(w => $"'{w}'"));
            driver.Append($"COMP_WORDS=({words} ''); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _microseg; echo \"{path}|${{COMPREPLY[*]}}\"\n");
        }
        driver.Append("COMP_WORDS=(microseg rule add --action ''); COMP_CWORD=4; _microseg; echo \"values|${COMPREPLY[*]}\"\n");
        File.WriteAllText(dir.File("driver.bash"), driver.ToString());
        var r = Sh.Run("bash", dir.File("driver.bash"));
        Assert.True(r.Exit == 0, r.ToString());
        var completions = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('|')).ToDictionary(p => p[0], p => p[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet());

        foreach (var (path, command) in commands.Prepend(("", (Command)Root)))
        {
            var offered = completions[path];
            foreach (var sub in command.Subcommands.Where(s => !s.Hidden))
                Assert.True(offered.Contains(sub.Name), $"'microseg {path}': subcommand {sub.Name} not offered");
            foreach (var o in command.Options.Where(o => !o.Hidden))
                foreach (var name in OptionNames(o))
                    Assert.True(offered.Contains(name), $"'microseg {path}': option {name} not offered");
            Assert.Contains("--config-dir", offered);
            Assert.DoesNotContain("generate", offered);
        }
        Assert.Equal(["allow", "deny"], completions["values"].Order());
    }
}
