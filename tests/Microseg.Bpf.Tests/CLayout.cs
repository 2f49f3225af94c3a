// Builds a C file of _Static_assert(sizeof/offsetof == value) from C# layouts and compiles it
// with clang against the real headers: a C# mirror that drifts from C fails to compile.
// __builtin_offsetof, not <stddef.h>: a vmlinux.h dumped from BTF clashes with libc headers.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests;

internal sealed class CLayout
{
    private readonly StringBuilder source = new();
    private int asserts;

    public CLayout(params string[] includes)
    {
        foreach (var include in includes) source.AppendLine($"#include {include}");
    }

    public int Asserts => asserts;

    public CLayout Size<T>(string cType) where T : unmanaged =>
        Assert($"sizeof({cType}) == {Unsafe.SizeOf<T>()}", $"sizeof({cType}) != {Unsafe.SizeOf<T>()} (C# {typeof(T).Name})");

    /// <summary>For mirrors of a leading part of a longer kernel struct.</summary>
    public CLayout SizeAtMost<T>(string cType) where T : unmanaged =>
        Assert($"{Unsafe.SizeOf<T>()} <= sizeof({cType})", $"C# {typeof(T).Name} ({Unsafe.SizeOf<T>()} bytes) is longer than {cType}");

    public CLayout Offset<T>(string csField, string cType, string cField) where T : unmanaged
    {
        long offset = Marshal.OffsetOf<T>(csField).ToInt64();
        return Assert($"__builtin_offsetof({cType}, {cField}) == {offset}", $"offsetof({cType}, {cField}) != {offset} (C# {typeof(T).Name}.{csField})");
    }

    public CLayout Constant(string cExpression, long value) =>
        Assert($"({cExpression}) == {value}", $"{cExpression} != {value} (C#)");

    public CLayout Assert(string condition, string message)
    {
        asserts++;
        source.AppendLine($"_Static_assert({condition}, \"{message}\");");
        return this;
    }

    /// <summary>Compiles the assertions with clang; throws with clang's output when they fail.</summary>
    public void Compile(params string[] clangArguments)
    {
        using var dir = new TempDirectory("microseg-layout-");
        string file = dir.File("layout.c");
        File.WriteAllText(file, source.ToString());
        var start = new ProcessStartInfo("clang") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in clangArguments) start.ArgumentList.Add(argument);
        start.ArgumentList.Add("-fsyntax-only");
        start.ArgumentList.Add("-I" + Path.Combine(RepoPaths.Root, "bpf", "include"));
        start.ArgumentList.Add(file);
        using var clang = Process.Start(start)!;
        string stdout = clang.StandardOutput.ReadToEnd();
        string stderr = clang.StandardError.ReadToEnd();
        clang.WaitForExit();
        if (clang.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"clang rejected the layout assertions:\n{stderr}{stdout}\n--- {file}\n{source}");
    }
}
