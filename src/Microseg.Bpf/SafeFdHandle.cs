// A file descriptor for a BPF object (program, map, link). Only negative values are invalid:
// fd 0 is a real descriptor when stdin was closed.
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

public sealed class SafeFdHandle : SafeHandle
{
    public SafeFdHandle() : base(-1, ownsHandle: true) { }

    internal SafeFdHandle(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => (long)handle < 0;

    protected override bool ReleaseHandle() => Interop.Libc.close((int)handle) == 0;

    /// <summary>Keeps the descriptor open (not closed by a concurrent Dispose) while in use.</summary>
    internal Lease Use()
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        return new Lease(this);
    }

    /// <summary>A new descriptor (close-on-exec) for the same kernel object as <paramref name="fd"/>,
    /// which the caller keeps open during the call; the new one is owned by the result.</summary>
    internal static SafeFdHandle DuplicateOf(int fd, string what) => new(NativeResult.CheckLibc(
        Interop.Libc.fcntl(fd, Interop.Libc.F_DUPFD_CLOEXEC, 0), $"duplicate the fd of {what}"));

    internal readonly ref struct Lease
    {
        private readonly SafeFdHandle owner;
        private readonly bool added;

        public Lease(SafeFdHandle owner)
        {
            this.owner = owner;
            owner.DangerousAddRef(ref added);
            Value = (int)owner.DangerousGetHandle();
        }

        public int Value { get; }

        public void Dispose()
        {
            if (added) owner.DangerousRelease();
        }
    }
}
