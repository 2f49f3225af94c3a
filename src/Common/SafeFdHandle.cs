// A file descriptor owned by managed code: a BPF program, map or link, a netlink socket, a
// namespace file. Only negative values are invalid: fd 0 is a real descriptor when stdin was
// closed. Shared source (src/Common): internal in each assembly that links it, unless that
// assembly declares its own part public (Microseg.Bpf does: its links and maps hand it out).
using System.Runtime.InteropServices;

namespace Microseg;

sealed partial class SafeFdHandle : SafeHandle
{
    public SafeFdHandle() : base(invalidHandleValue: -1, ownsHandle: true) { }

    internal SafeFdHandle(int fd) : this() => SetHandle(fd);

    public override bool IsInvalid => (long)handle < 0;

    protected override bool ReleaseHandle() => Interop.Libc.close((int)handle) == 0;

    /// <summary>Keeps the descriptor open (not closed by a concurrent Dispose) while in use.</summary>
    internal Lease Use()
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        return new Lease(this);
    }

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
