// Linux errno values the BPF and bpffs calls return, with their names for error messages.
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int E2BIG = 7;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENODEV = 19;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EMFILE = 24;
    public const int ENOSPC = 28;
    public const int ERANGE = 34;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int ENOLINK = 67;
    public const int EPROTO = 71;
    public const int EOVERFLOW = 75;
    public const int EOPNOTSUPP = 95;
    public const int EALREADY = 114;
    /// <summary>Kernel-internal "not supported" that bpf(2) leaks to user space.</summary>
    public const int ENOTSUPP = 524;

    private const int LibbpfErrnoStart = 4000;

    private static readonly string[] libbpfNames =
    [
        "LIBBPF_ERRNO__LIBELF", "LIBBPF_ERRNO__FORMAT", "LIBBPF_ERRNO__KVERSION", "LIBBPF_ERRNO__ENDIAN",
        "LIBBPF_ERRNO__INTERNAL", "LIBBPF_ERRNO__RELOC", "LIBBPF_ERRNO__LOAD", "LIBBPF_ERRNO__VERIFY",
        "LIBBPF_ERRNO__PROG2BIG", "LIBBPF_ERRNO__KVER", "LIBBPF_ERRNO__PROGTYPE", "LIBBPF_ERRNO__WRNGPID",
        "LIBBPF_ERRNO__INVSEQ", "LIBBPF_ERRNO__NLPARSE",
    ];

    /// <summary>The symbolic name (<c>EEXIST</c>), or <c>errno N</c> when we do not know it.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", EINTR => "EINTR", EIO => "EIO", ENXIO => "ENXIO",
        E2BIG => "E2BIG", EBADF => "EBADF", EAGAIN => "EAGAIN", ENOMEM => "ENOMEM", EACCES => "EACCES",
        EFAULT => "EFAULT", EBUSY => "EBUSY", EEXIST => "EEXIST", EXDEV => "EXDEV", ENODEV => "ENODEV",
        ENOTDIR => "ENOTDIR", EISDIR => "EISDIR", EINVAL => "EINVAL", EMFILE => "EMFILE",
        ENOSPC => "ENOSPC", ERANGE => "ERANGE", ENOSYS => "ENOSYS", ENOTEMPTY => "ENOTEMPTY",
        ELOOP => "ELOOP", ENOLINK => "ENOLINK", EPROTO => "EPROTO", EOVERFLOW => "EOVERFLOW",
        EOPNOTSUPP => "EOPNOTSUPP", EALREADY => "EALREADY", ENOTSUPP => "ENOTSUPP",
        >= LibbpfErrnoStart and < LibbpfErrnoStart + 14 => libbpfNames[errno - LibbpfErrnoStart],
        _ => $"errno {errno}",
    };

    /// <summary>The human text (strerror, or libbpf's own text for its 4000+ codes).</summary>
    public static unsafe string Describe(int errno)
    {
        if (errno == ENOTSUPP) return "Operation is not supported";
        if (errno is >= LibbpfErrnoStart and < LibbpfErrnoStart + 100)
        {
            byte* buf = stackalloc byte[128];
            if (Interop.Libbpf.libbpf_strerror(errno, buf, 128) == 0)
                return Marshal.PtrToStringUTF8((nint)buf) ?? "";
        }
        return Marshal.GetPInvokeErrorMessage(errno);
    }
}
