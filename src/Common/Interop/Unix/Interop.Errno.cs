// The one errno table: Linux (asm-generic) numbers, their C names and their text, so that
// every message reads `EEXIST (File exists)`. Shared source (src/Common), internal to each
// assembly; Microseg.Netlink's layout test checks every name against <errno.h>.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static class Errno
    {
        internal const int EPERM = 1;
        internal const int ENOENT = 2;
        internal const int EINTR = 4;
        internal const int EIO = 5;
        internal const int ENXIO = 6;
        internal const int E2BIG = 7;
        internal const int EBADF = 9;
        internal const int EAGAIN = 11;
        internal const int ENOMEM = 12;
        internal const int EACCES = 13;
        internal const int EFAULT = 14;
        internal const int EBUSY = 16;
        internal const int EEXIST = 17;
        internal const int EXDEV = 18;
        internal const int ENODEV = 19;
        internal const int ENOTDIR = 20;
        internal const int EISDIR = 21;
        internal const int EINVAL = 22;
        internal const int EMFILE = 24;
        internal const int ENOSPC = 28;
        internal const int ERANGE = 34;
        internal const int ENOSYS = 38;
        internal const int ENOTEMPTY = 39;
        internal const int ELOOP = 40;
        internal const int ENOLINK = 67;
        internal const int EPROTO = 71;
        internal const int EOVERFLOW = 75;
        internal const int EOPNOTSUPP = 95;
        internal const int ENOBUFS = 105;
        internal const int EALREADY = 114;

        /// <summary>Kernel-internal "not supported"; never in &lt;errno.h&gt;, but bpf(2) and netlink replies carry it.</summary>
        internal const int ENOTSUPP = 524;

        // Indexed by errno; null where Linux has no number.
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

        /// <summary>The C name (<c>EEXIST</c>), or <c>errno N</c> when Linux has none for it.</summary>
        internal static string Name(int errno) => errno switch
        {
            > 0 when errno < Names.Length && Names[errno] is { } name => name,
            ENOTSUPP => "ENOTSUPP",
            _ => $"errno {errno}",
        };

        /// <summary>The human text (strerror).</summary>
        internal static string Text(int errno) =>
            errno == ENOTSUPP ? "Operation is not supported" : Marshal.GetPInvokeErrorMessage(errno);

        /// <summary><c>EEXIST (File exists)</c>.</summary>
        internal static string Describe(int errno) => $"{Name(errno)} ({Text(errno)})";
    }
}
