// Every UAPI constant, struct offset and errno name the library hard-codes, compiled against
// the real kernel headers with _Static_assert (as Tmds.LibC does). Needs a C compiler.
using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Microseg.Netlink.Tests;

public class LayoutTests
{
    private static readonly string[] Structs = ["sockaddr_nl", "nlmsghdr", "nlmsgerr", "nlattr", "ifinfomsg", "pollfd"];

    [Fact]
    public void Constants_offsets_and_errno_names_match_the_C_headers()
    {
        var source = new StringBuilder("""
            #define _GNU_SOURCE
            #include <errno.h>
            #include <fcntl.h>
            #include <poll.h>
            #include <stddef.h>
            #include <sys/eventfd.h>
            #include <sys/socket.h>
            #include <linux/if.h>
            #include <linux/if_link.h>
            #include <linux/netlink.h>
            #include <linux/rtnetlink.h>
            #include <linux/sched.h>

            """);
        int asserts = 0;
        foreach (var field in Literals(typeof(Uapi)))
        {
            source.AppendLine($"_Static_assert((long long)({field.Name}) == {Convert.ToInt64(field.GetRawConstantValue())}LL, \"{field.Name}\");");
            asserts++;
        }
        foreach (var field in Literals(typeof(Layout)))
        {
            long value = Convert.ToInt64(field.GetRawConstantValue());
            string expression = field.Name.StartsWith("sizeof_")
                ? $"sizeof(struct {field.Name["sizeof_".Length..]})"
                : Structs.Single(s => field.Name.StartsWith(s + "_")) is var s ? $"offsetof(struct {s}, {field.Name[(s.Length + 1)..]})" : "";
            source.AppendLine($"_Static_assert({expression} == {value}, \"{field.Name}\");");
            asserts++;
        }
        for (int errno = 1; errno < Interop.Errno.Names.Length; errno++)
        {
            if (Interop.Errno.Names[errno] is not { } name) continue;
            source.AppendLine($"_Static_assert({name} == {errno}, \"{name}\");");
            asserts++;
        }
        Assert.True(asserts > 200, $"only {asserts} assertions generated");

        var (exitCode, errors) = Compile(source.ToString());
        Assert.True(exitCode == 0, $"the C headers disagree:\n{errors}");
    }

    private static IEnumerable<FieldInfo> Literals(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral);

    private static (int, string) Compile(string source)
    {
        string compiler = new[] { "clang", "cc" }.FirstOrDefault(OnPath)
            ?? throw new InvalidOperationException("no C compiler (clang or cc) on PATH; make deps installs clang");
        var start = new ProcessStartInfo(compiler, ["-fsyntax-only", "-Werror", "-x", "c", "-"])
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(source);
        process.StandardInput.Close();
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, errors);
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, program)));
}
