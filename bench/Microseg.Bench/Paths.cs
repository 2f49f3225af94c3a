// Where the benchmarks find the built artefacts (`make bench` builds them first).
namespace Microseg.Bench;

public static class Paths
{
    public static string Root { get; } = FindRoot();
    /// <summary>out/microseg, or MICROSEG_BIN (to time another build in the same suites).</summary>
    public static string Microseg =>
        Environment.GetEnvironmentVariable("MICROSEG_BIN") is { Length: > 0 } bin ? Path.GetFullPath(bin) : Path.Combine(Root, "out", "microseg");
    public static string Hello => Path.Combine(Root, "out", "bench", "hello", "hello");
    public static string PlugBaseline => Path.Combine(Root, "out", "bench", "plug-baseline");
    public static string NoopBaseline => Path.Combine(Root, "out", "bench", "noop-baseline");
    public static string UdpFlood => Path.Combine(Root, "out", "bench", "udp-flood");
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
