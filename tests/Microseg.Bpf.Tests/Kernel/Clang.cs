// Compiles a BPF C file the way the Makefile does, for tests that need an object of their own.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

internal static class Clang
{
    public static void CompileBpf(string source, string output)
    {
        string arch = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "aarch64" : "x86_64";
        var start = new ProcessStartInfo("clang",
            ["-g", "-O2", "-target", "bpf", "-Wall", "-I" + Path.Combine(RepoPaths.Root, "bpf", "include"),
             $"-I/usr/include/{arch}-linux-gnu", "-c", source, "-o", output])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var clang = Process.Start(start)!;
        string stdout = clang.StandardOutput.ReadToEnd();
        string stderr = clang.StandardError.ReadToEnd();
        clang.WaitForExit();
        Assert.True(clang.ExitCode == 0, $"clang {source}: {stderr}{stdout}");
    }
}
