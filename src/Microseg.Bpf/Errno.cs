// The errno values callers of Microseg.Bpf compare BpfException.Errno with. Names and text come
// from the one shared table (src/Common/Interop/Unix/Interop.Errno.cs); only libbpf's own
// 4000+ codes, which are not errno values, are described here.
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

public static class Errno
{
    public const int EPERM = Interop.Errno.EPERM;
    public const int ENOENT = Interop.Errno.ENOENT;
    public const int EINTR = Interop.Errno.EINTR;
    public const int EIO = Interop.Errno.EIO;
    public const int ENXIO = Interop.Errno.ENXIO;
    public const int E2BIG = Interop.Errno.E2BIG;
    public const int EBADF = Interop.Errno.EBADF;
    public const int EAGAIN = Interop.Errno.EAGAIN;
    public const int ENOMEM = Interop.Errno.ENOMEM;
    public const int EACCES = Interop.Errno.EACCES;
    public const int EFAULT = Interop.Errno.EFAULT;
    public const int EBUSY = Interop.Errno.EBUSY;
    public const int EEXIST = Interop.Errno.EEXIST;
    public const int EXDEV = Interop.Errno.EXDEV;
    public const int ENODEV = Interop.Errno.ENODEV;
    public const int ENOTDIR = Interop.Errno.ENOTDIR;
    public const int EISDIR = Interop.Errno.EISDIR;
    public const int EINVAL = Interop.Errno.EINVAL;
    public const int EMFILE = Interop.Errno.EMFILE;
    public const int ENOSPC = Interop.Errno.ENOSPC;
    public const int ERANGE = Interop.Errno.ERANGE;
    public const int ENOSYS = Interop.Errno.ENOSYS;
    public const int ENOTEMPTY = Interop.Errno.ENOTEMPTY;
    public const int ELOOP = Interop.Errno.ELOOP;
    public const int ENOLINK = Interop.Errno.ENOLINK;
    public const int EPROTO = Interop.Errno.EPROTO;
    public const int EOVERFLOW = Interop.Errno.EOVERFLOW;
    public const int EOPNOTSUPP = Interop.Errno.EOPNOTSUPP;
    public const int EALREADY = Interop.Errno.EALREADY;
    /// <summary>Kernel-internal "not supported" that bpf(2) leaks to user space.</summary>
    public const int ENOTSUPP = Interop.Errno.ENOTSUPP;

    private const int LibbpfErrnoStart = 4000;

    private static readonly string[] libbpfNames =
    [
        "LIBBPF_ERRNO__LIBELF", "LIBBPF_ERRNO__FORMAT", "LIBBPF_ERRNO__KVERSION", "LIBBPF_ERRNO__ENDIAN",
        "LIBBPF_ERRNO__INTERNAL", "LIBBPF_ERRNO__RELOC", "LIBBPF_ERRNO__LOAD", "LIBBPF_ERRNO__VERIFY",
        "LIBBPF_ERRNO__PROG2BIG", "LIBBPF_ERRNO__KVER", "LIBBPF_ERRNO__PROGTYPE", "LIBBPF_ERRNO__WRNGPID",
        "LIBBPF_ERRNO__INVSEQ", "LIBBPF_ERRNO__NLPARSE",
    ];

    /// <summary>The symbolic name (<c>EEXIST</c>), or <c>errno N</c> when we do not know it.</summary>
    public static string Name(int errno) => errno is >= LibbpfErrnoStart and < LibbpfErrnoStart + 14
        ? libbpfNames[errno - LibbpfErrnoStart]
        : Interop.Errno.Name(errno);

    /// <summary>The human text (strerror, or libbpf's own text for its 4000+ codes).</summary>
    public static unsafe string Describe(int errno)
    {
        if (errno is >= LibbpfErrnoStart and < LibbpfErrnoStart + 100)
        {
            byte* buf = stackalloc byte[128];
            if (Interop.Libbpf.libbpf_strerror(errno, buf, 128) == 0)
                return Marshal.PtrToStringUTF8((nint)buf) ?? "";
        }
        return Interop.Errno.Text(errno);
    }
}
