// `microseg explain` reads only the pair it is asked about from microseg.cfg: its answer does
// not wait for objects it does not need, but the objects it reads are checked, and a file whose
// structure is broken is still refused with file and line.
namespace Microseg.Cli.Tests;

public sealed class ExplainPairTests : IDisposable
{
    private const string Config =
        "group: app\n\tmark 1\n\n" +
        "group: web\n\tmark 2\n\tparent app\n\n" +
        "group: db\n\tmark 3\n\n" +
        "group: other\n\tmark 4\n\n" +
        "rule: p1-3\n\tsrc app\n\tdst db\n\taction allow\n\n" +
        "rule: p4-3\n\tsrc other\n\tdst db\n\taction allow\n";

    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void A_broken_object_that_does_not_decide_the_pair_does_not_stop_explain()
    {
        dir.WithPending(Config.Replace("\tsrc other\n\tdst db\n\taction allow\n", "\tsrc other\n\tdst db\n\taction maybe\n"));
        var check = dir.Run("config", "check");
        Assert.Equal(1, check.Exit);
        Assert.Contains("microseg.cfg:22: rule 'p4-3': action 'maybe' is not 'allow' or 'deny'", check.Err);
        Assert.Equal("web -> db: allow", dir.Ok("explain", "web", "db").Out.Split('\n')[0]);
        // matrix reads the whole config, so it refuses it.
        Assert.Equal(1, dir.Run("matrix").Exit);
    }

    [Fact]
    public void A_broken_object_on_the_pair_is_named_with_its_line()
    {
        dir.WithPending(Config.Replace("group: app\n\tmark 1\n", "group: app\n\tmark one\n"));
        var r = dir.Run("explain", "web", "db");
        Assert.Equal(1, r.Exit);
        Assert.Contains("microseg.cfg:2: group 'app': mark 'one' is not a whole number in range", r.Err);
    }

    [Fact]
    public void A_file_whose_structure_is_broken_is_refused_with_its_line()
    {
        dir.WithPending(Config + "\nwidget: w\n\tsize 1\n");
        var r = dir.Run("explain", "web", "db");
        Assert.Equal(1, r.Exit);
        Assert.Contains("microseg.cfg:24: unknown section type 'widget'", r.Err);
    }

    [Fact]
    public void An_unknown_group_is_named()
    {
        dir.WithPending(Config);
        var r = dir.Run("explain", "web", "ghost");
        Assert.Equal(1, r.Exit);
        Assert.Contains("unknown destination group 'ghost'", r.Err);
        Assert.Equal("untagged -> db: deny", dir.Ok("explain", "untagged", "db").Out.Split('\n')[0]);
    }
}
