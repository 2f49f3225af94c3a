// Every class of error in microseg.cfg is reported with file:line and the problem.
using System.Text;
using Microseg.Policy;

namespace Microseg.Policy.Tests;

public sealed class SectionConfigErrorTests
{
    private const string File = "/etc/microseg/microseg.cfg";

    private static ConfigException Fails(string text) =>
        Assert.Throws<ConfigException>(() => SectionConfig.Parse(text, File));

    /// <summary>Asserts the text has exactly one problem, at the line, with every fragment in
    /// its message, and that the exception's own message says so too.</summary>
    private static void OneProblem(string text, int line, params string[] fragments)
    {
        var e = Fails(text);
        var problem = Assert.Single(e.Problems);
        Assert.Equal($"{File}:{line}", problem.Where);
        Assert.StartsWith($"{File}:{line}: ", e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact]
    public void Unknown_section_type()
    {
        OneProblem("group: a\n\tmark 1\n\nfirewall: x\n\tpolicy drop\n", 4, "unknown section type 'firewall'");
    }

    [Fact]
    public void Unknown_key_names_the_key_and_the_section()
    {
        OneProblem("group: a\n\tmark 1\n\tcolour red\n", 3, "unknown key 'colour'", "group 'a'");
    }

    [Fact]
    public void Duplicate_key_names_the_first_line()
    {
        OneProblem("group: a\n\tmark 1\n\tcomment x\n\tmark 2\n", 4, "duplicate key 'mark'", "line 2");
    }

    [Fact]
    public void Duplicate_id_of_the_same_type()
    {
        OneProblem("group: a\n\tmark 1\n\ngroup: b\n\ngroup: a\n\tmark 2\n", 6, "duplicate group 'a'", "line 1");
    }

    [Fact]
    public void Duplicate_id_across_types()
    {
        OneProblem("group: eth1\n\tmark 1\n\nbridge: eth1\n", 4, "'eth1'", "group on line 1");
    }

    [Theory]
    [InlineData("rule: p1-2\n\tsrc a\n\taction allow\n", 1, "missing required key 'dst'", "rule 'p1-2'")]
    [InlineData("group: a\n\tmark 1\n\nrule: p0-1\n\tdst a\n", 4, "missing required key 'action'", "rule 'p0-1'")]
    [InlineData("assignment: vm100i0\n\tvmid 100\n\tiface 0\n", 1, "missing required key 'group'", "assignment 'vm100i0'")]
    [InlineData("assignment: vm100i0\n\tiface 0\n\tgroup a\n", 1, "missing required key 'vmid'", "assignment 'vm100i0'")]
    [InlineData("forwarder: fw\n\tphysical eth0\n", 1, "missing required key 'router'", "forwarder 'fw'")]
    public void Missing_required_key(string text, int line, string problem, string obj)
    {
        OneProblem(text, line, problem, obj);
    }

    [Theory]
    [InlineData("ten")]
    [InlineData("-1")]
    [InlineData("+5")]
    [InlineData("1.5")]
    [InlineData("0x10")]
    [InlineData("99999999999999999999")]
    public void Non_numeric_mark(string mark)
    {
        OneProblem($"group: a\n\tcomment c\n\tmark {mark}\n", 3, $"mark '{mark}'", "group 'a'");
    }

    [Fact]
    public void Non_numeric_vmid_and_iface_each_reported()
    {
        var e = Fails("assignment: vm100i0\n\tvmid hundred\n\tiface zero\n\tgroup a\n");
        Assert.Equal([$"{File}:2", $"{File}:3"], e.Problems.Select(p => p.Where));
        Assert.Contains("vmid 'hundred'", e.Problems[0].Message);
        Assert.Contains("iface 'zero'", e.Problems[1].Message);
    }

    [Fact]
    public void Key_without_value()
    {
        OneProblem("group: a\n\tmark\n", 2, "'mark' has no value");
    }

    [Fact]
    public void Bad_action()
    {
        OneProblem("group: a\n\tmark 1\n\nrule: p0-1\n\tdst a\n\taction permit\n", 6, "action 'permit'");
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("2")]
    [InlineData("true")]
    public void Bad_allow(string allow)
    {
        OneProblem($"rule: p0-1\n\tdst a\n\tallow {allow}\n", 3, $"allow '{allow}'", "1 or 0");
    }

    [Fact]
    public void Action_and_allow_together_is_an_error()
    {
        OneProblem("rule: p0-1\n\tdst a\n\taction allow\n\tallow 1\n", 4, "either 'action' or 'allow'");
    }

    [Fact]
    public void Bad_mode()
    {
        OneProblem("forwarder: fw\n\trouter eth9\n\tphysical eth0\n\tmode turbo\n", 4, "mode 'turbo'", "forwarder 'fw'");
    }

    [Theory]
    [InlineData("bridge: eth1\n\tnodes node1,,node2\n", 2, "nodes")]
    [InlineData("bridge: eth1\n\tnodes node1,\n", 2, "nodes")]
    [InlineData("bridge: eth1\n\tnodes , node1\n", 2, "nodes")]
    [InlineData("forwarder: fw\n\trouter eth9\n\tphysical eth0,,eth1\n", 3, "physical")]
    public void Empty_list_item(string text, int line, string key)
    {
        OneProblem(text, line, key, "empty item");
    }

    [Fact]
    public void Property_before_any_section()
    {
        OneProblem("# a comment\n\tmark 1\n\ngroup: a\n", 2, "property outside a section");
    }

    [Fact]
    public void Property_after_the_blank_line_that_ends_a_section()
    {
        OneProblem("group: a\n\tmark 1\n\n\tcomment late\n", 4, "property outside a section");
    }

    [Theory]
    [InlineData("group:\n\tmark 1\n")]
    [InlineData("group: \n\tmark 1\n")]
    [InlineData("group: a b\n\tmark 1\n")]
    public void Header_without_one_id(string text)
    {
        OneProblem("group: ok\n\tmark 9\n\n" + text, 4, "needs one id");
    }

    [Theory]
    [InlineData("just words")]
    [InlineData(":x")]
    public void Line_that_is_not_a_header(string line)
    {
        OneProblem($"group: a\n\tmark 1\n\n{line}\n", 4, "section header");
    }

    [Fact]
    public void Assignment_id_that_is_not_derived_names_the_derived_id()
    {
        OneProblem("assignment: vm1i0\n\tvmid 100\n\tiface 0\n\tgroup a\n", 1, "assignment 'vm1i0'", "'vm100i0'");
    }

    [Fact]
    public void Invalid_utf8_names_the_file_and_the_line_of_the_bad_byte()
    {
        var bytes = Encoding.UTF8.GetBytes("group: a\n\tmark 1\n\tcomment caf").Concat(new byte[] { 0xC3, 0x28 })
            .Concat(Encoding.UTF8.GetBytes("\n")).ToArray();
        var e = Assert.Throws<ConfigException>(() => SectionConfig.Parse(bytes, File));
        Assert.Contains("UTF-8", e.Message);
        Assert.Equal($"{File}:3", Assert.Single(e.Problems).Where);
    }

    [Fact]
    public void Every_problem_is_reported_at_once_in_line_order()
    {
        var text = "group: a\n\tcolour red\n\ngroup: b\n\tmark x\n\nzone: z\n\nrule: r\n\tdst a\n\taction maybe\n";
        var e = Fails(text);
        Assert.Equal([$"{File}:2", $"{File}:5", $"{File}:7", $"{File}:11"], e.Problems.Select(p => p.Where));
    }

    [Fact]
    public void Properties_of_a_broken_header_are_not_reported_again()
    {
        // The broken header is the one problem; its properties do not add "outside a section".
        OneProblem("zone: z\n\tmark 1\n\tcomment c\n", 1, "unknown section type 'zone'");
    }
}
