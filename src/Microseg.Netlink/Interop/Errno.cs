// errno values to their C names, so messages read `EPERM (Operation not permitted)`.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static class Errno
    {
        internal const int EINTR = 4;
        internal const int EIO = 5;
        internal const int ENODEV = 19;
        internal const int EINVAL = 22;

        // Linux (asm-generic) numbering; the layout test checks every entry against <errno.h>.
        internal static readonly string?[] Names =
        [
            null, "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
            "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV",
            "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE",
            "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY",
            "ELOOP", null, "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH",
            "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", null, "EBFONT",
            "ENOSTR", "ENODATA", "ETIME", "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT",
            "ECOMM", "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC",
            "ELIBBAD", "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ",
            "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL",
            "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN", "ETOOMANYREFS",
            "ETIMEDOUT", "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN", "ENOTNAM", "ENAVAIL",
            "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED", "EKEYREVOKED", "EKEYREJECTED",
            "EOWNERDEAD", "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
        ];

        // Kernel-internal; never in <errno.h>, but netlink and bpf replies do carry it.
        private const int ENOTSUPP = 524;

        internal static string Name(int errno) => errno switch
        {
            > 0 when errno < Names.Length && Names[errno] is { } name => name,
            ENOTSUPP => "ENOTSUPP",
            _ => $"errno {errno}",
        };

        internal static string Text(int errno) =>
            errno == ENOTSUPP ? "Operation is not supported" : Marshal.GetPInvokeErrorMessage(errno);

        /// <summary>`EPERM (Operation not permitted)`.</summary>
        internal static string Describe(int errno) => $"{Name(errno)} ({Text(errno)})";
    }
}
