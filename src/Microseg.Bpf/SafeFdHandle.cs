// Microseg.Bpf's part of the shared fd handle (src/Common/SafeFdHandle.cs): public here,
// because programs, maps and links hand their fd out, and able to duplicate a libbpf-owned fd.
namespace Microseg;

public sealed partial class SafeFdHandle
{
    /// <summary>A new descriptor (close-on-exec) for the same kernel object as <paramref name="fd"/>,
    /// which the caller keeps open during the call; the new one is owned by the result.</summary>
    internal static SafeFdHandle DuplicateOf(int fd, string what) => new(Microseg.Bpf.NativeResult.CheckLibc(
        Interop.Libc.fcntl(fd, Interop.Libc.F_DUPFD_CLOEXEC, 0), $"duplicate the fd of {what}"));
}
