// Where the built artefacts live, found from the test assembly's location (tests run from a
// clone after `make build`).
namespace Microseg.TestSupport;

public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The published `microseg` executable (`make build` puts it in out/).</summary>
    public static string MicrosegBinary =>
        Environment.GetEnvironmentVariable("MICROSEG_BIN") is { Length: > 0 } bin ? bin : Path.Combine(Root, "out", "microseg");

    public static string BpfObject(string name) => Path.Combine(Root, "out", "bpf", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Makefile")) && Directory.Exists(Path.Combine(dir.FullName, "bpf")))
                return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository root above {AppContext.BaseDirectory}");
    }
}
