// Gates kernel tests on a real probe (can this process create a BPF map and a network
// namespace?), run once. Outside CI a failed probe skips with the reason; in CI (CI=true) it
// never skips, so the test runs and fails loudly on a machine that cannot do the work.
using System.Runtime.InteropServices;

namespace Microseg.TestSupport;

public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (KernelProbe.Failure is { } why && !KernelProbe.InCi)
            Skip = $"kernel test skipped: {why} (CI=true turns this skip into a failure)";
    }
}

public sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (KernelProbe.Failure is { } why && !KernelProbe.InCi)
            Skip = $"kernel test skipped: {why} (CI=true turns this skip into a failure)";
    }
}

public static partial class KernelProbe
{
    public static bool InCi =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static readonly Lazy<string?> failure = new(Probe);

    /// <summary>Why kernel tests cannot run here, or null when they can.</summary>
    public static string? Failure => failure.Value;

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        // BPF_MAP_CREATE of a one-entry array: the cheapest real proof that bpf() works for us.
        int fd;
        try { fd = bpf_map_create(2 /* BPF_MAP_TYPE_ARRAY */, null, 4, 4, 1, IntPtr.Zero); }
        catch (DllNotFoundException) { return "libbpf.so.1 is not installed (make build installs it)"; }
        if (fd < 0) return $"bpf(BPF_MAP_CREATE) failed: errno {-fd} ({Marshal.GetPInvokeErrorMessage(-fd)}); run as root";
        close(fd);
        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/usr/bin/ip") && !File.Exists("/sbin/ip"))
            return "iproute2 (ip) is not installed (make build installs it)";
        return null;
    }

    [LibraryImport("libbpf.so.1", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int bpf_map_create(int type, string? name, uint keySize, uint valueSize, uint maxEntries, IntPtr opts);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
