// A call into the kernel failed: a syscall on the netlink socket or namespace file, or the
// kernel's NLMSG_ERROR / NLMSG_DONE answer to a request.
using System.Runtime.InteropServices;

namespace Microseg.Netlink;

public sealed class NetlinkException : IOException
{
    private NetlinkException(string operation, int errno, string? kernelMessage, string? detail)
        : base($"{operation}: {Interop.Errno.Describe(errno)}{(kernelMessage ?? detail) switch { { Length: > 0 } more => $": {more}", _ => "" }}")
    {
        Operation = operation;
        Errno = errno;
        KernelMessage = kernelMessage;
    }

    /// <summary>What was tried, on what: `RTM_GETLINK dump`, `setns to /run/netns/lab`.</summary>
    public string Operation { get; }

    /// <summary>The positive errno value (`EPERM` is 1).</summary>
    public int Errno { get; }

    /// <summary>The C name of <see cref="Errno"/>, e.g. `EPERM`.</summary>
    public string ErrnoName => Interop.Errno.Name(Errno);

    /// <summary>The extended-ack text the kernel attached to its error, if any.</summary>
    public string? KernelMessage { get; }

    /// <summary>The kernel answered a request with an error.</summary>
    internal static NetlinkException FromKernel(string operation, NetlinkStatus status) =>
        new(operation, status.Errno, status.KernelMessage, detail: null);

    /// <summary>A libc call just failed; reads its errno.</summary>
    internal static NetlinkException FromLastError(string operation) =>
        new(operation, Marshal.GetLastPInvokeError(), kernelMessage: null, detail: null);

    /// <summary>A libc call failed with <paramref name="errno"/>, read by the caller.</summary>
    internal static NetlinkException FromErrno(string operation, int errno) =>
        new(operation, errno, kernelMessage: null, detail: null);

    /// <summary>We detected the failure ourselves and name the closest errno.</summary>
    internal static NetlinkException Failed(string operation, int errno, string detail) =>
        new(operation, errno, kernelMessage: null, detail);
}

/// <summary>Bytes that claim to be netlink but break its framing or an attribute's shape.</summary>
public sealed class NetlinkFormatException : FormatException
{
    public NetlinkFormatException(string message) : base(message) { }
}
