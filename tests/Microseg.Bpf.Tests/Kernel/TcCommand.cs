// iproute2's tc in a test's namespace: foreign filters for the tc attach mode to leave alone,
// and what the kernel lists on a hook.
using System.Diagnostics;

namespace Microseg.Bpf.Tests.Kernel;

internal static class TcCommand
{
    /// <summary>Runs <c>tc -n NAME args…</c> and returns its stdout; throws with stderr when it fails.</summary>
    public static string Run(TempNetns netns, params string[] args)
    {
        var start = new ProcessStartInfo("tc") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-n", netns.Name, .. args]) start.ArgumentList.Add(arg);
        using var tc = Process.Start(start)!;
        string stdout = tc.StandardOutput.ReadToEnd();
        string stderr = tc.StandardError.ReadToEnd();
        tc.WaitForExit();
        if (tc.ExitCode != 0)
            throw new InvalidOperationException($"tc {string.Join(' ', args)}: exit {tc.ExitCode}: {stderr.Trim()}");
        return stdout;
    }

    /// <summary>The filters on a hook, sorted: "pref 1 bpf handle 0x4d53" for a cls_bpf filter,
    /// "pref 100 u32" for a u32 filter (its hash table and keys all count as one).</summary>
    public static IReadOnlyList<string> Filters(TempNetns netns, string device, string direction) =>
        Run(netns, "filter", "show", "dev", device, direction)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("filter ", StringComparison.Ordinal)
                           && (line.Contains(" handle ", StringComparison.Ordinal) || line.Contains(" fh ", StringComparison.Ordinal)))
            .Select(Describe)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    public static bool HasClsact(TempNetns netns, string device) =>
        Run(netns, "qdisc", "show", "dev", device).Contains("qdisc clsact ffff:", StringComparison.Ordinal);

    // "filter protocol all pref 1 bpf chain 0 handle 0x4d53 policy_egress direct-action …" →
    // "pref 1 bpf handle 0x4d53"; "filter protocol all pref 100 u32 chain 0 fh 800::800 …" →
    // "pref 100 u32"
    private static string Describe(string line)
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int pref = Array.IndexOf(words, "pref");
        int handle = Array.IndexOf(words, "handle");
        return handle < 0 ? $"pref {words[pref + 1]} {words[pref + 2]}" : $"pref {words[pref + 1]} {words[pref + 2]} handle {words[handle + 1]}";
    }
}
