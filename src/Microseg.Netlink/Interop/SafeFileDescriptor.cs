// A file descriptor owned by managed code. Only negative values are invalid: fd 0 is real.
using System.Runtime.InteropServices;

internal sealed class SafeFileDescriptor : SafeHandle
{
    public SafeFileDescriptor() : base(invalidHandleValue: -1, ownsHandle: true) { }

    public SafeFileDescriptor(int fd) : this() => SetHandle(fd);

    public override bool IsInvalid => (int)handle < 0;

    protected override bool ReleaseHandle() => Interop.close((int)handle) == 0;
}
