// The lab's recvmsg(2) mirrors (what MarkReceiver reads skb->mark through) against glibc's
// headers, compiled by clang as _Static_assert(sizeof/offsetof) (STYLE: layout tier).
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microseg.TestSupport;
using LabInterop = Microseg.Lab.Interop;

namespace Microseg.Agent.Tests;

public class CarrierLabLayoutTests
{
    [Fact]
    public void Recvmsg_structs_and_constants_match_glibc()
    {
        var c = new StringBuilder("#include <sys/socket.h>\n#include <sys/uio.h>\n");
        void Size<T>(string type) where T : unmanaged =>
            c.AppendLine($"_Static_assert(sizeof({type}) == {Unsafe.SizeOf<T>()}, \"sizeof({type})\");");
        void Offset<T>(string field, string type, string cField) where T : unmanaged =>
            c.AppendLine($"_Static_assert(__builtin_offsetof({type}, {cField}) == {Marshal.OffsetOf<T>(field)}, \"offsetof({type}, {cField})\");");
        void Constant(string name, int value) => c.AppendLine($"_Static_assert({name} == {value}, \"{name}\");");

        Size<LabInterop.Libc.iovec_t>("struct iovec");
        Offset<LabInterop.Libc.iovec_t>("iov_base", "struct iovec", "iov_base");
        Offset<LabInterop.Libc.iovec_t>("iov_len", "struct iovec", "iov_len");
        Size<LabInterop.Libc.msghdr_t>("struct msghdr");
        foreach (var f in new[] { "msg_name", "msg_namelen", "msg_iov", "msg_iovlen", "msg_control", "msg_controllen", "msg_flags" })
            Offset<LabInterop.Libc.msghdr_t>(f, "struct msghdr", f);
        Size<LabInterop.Libc.cmsghdr_t>("struct cmsghdr");
        foreach (var f in new[] { "cmsg_len", "cmsg_level", "cmsg_type" })
            Offset<LabInterop.Libc.cmsghdr_t>(f, "struct cmsghdr", f);
        c.AppendLine($"_Static_assert(CMSG_LEN(0) == {Unsafe.SizeOf<LabInterop.Libc.cmsghdr_t>()}, \"CMSG_DATA follows the header\");");
        Constant("SOL_SOCKET", LabInterop.Libc.SOL_SOCKET);
        Constant("SO_MARK", LabInterop.Libc.SO_MARK);
        Constant("MSG_DONTWAIT", LabInterop.Libc.MSG_DONTWAIT);
        // SO_RCVMARK is newer than Debian 12's glibc headers: the kernel's UAPI value.
        c.AppendLine("#include <asm-generic/socket.h>");
        Constant("SO_RCVMARK", LabInterop.Libc.SO_RCVMARK);

        using var dir = new TempDirectory("microseg-layout-");
        var file = dir.File("layout.c");
        File.WriteAllText(file, c.ToString());
        using var clang = Process.Start(new ProcessStartInfo("clang", ["-fsyntax-only", file]) { RedirectStandardError = true })!;
        var errors = clang.StandardError.ReadToEnd();
        clang.WaitForExit();
        Assert.True(clang.ExitCode == 0, $"clang rejected the layout assertions:\n{errors}\n--- {file}\n{c}");
    }
}
