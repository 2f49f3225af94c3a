// Where the benchmarks find the built artefacts (`make bench` builds them first).
namespace Microseg.Bench;

public static class Paths
{
    public static string Root { get; } = FindRoot();
    public static string Microseg => Path.Combine(Root, "out", "microseg");
    public static string BpfObject(string name) => Path.Combine(Root, "out", "bpf", name);
    public static string BenchObject(string name) => Path.Combine(Root, "out", "bpf", "bench", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Makefile")) && Directory.Exists(Path.Combine(dir.FullName, "bpf")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root");
    }
}
