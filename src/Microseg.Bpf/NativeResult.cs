// The error conventions of the native calls, one helper each:
//   libbpf int returns:     negative = -errno (libbpf 1.x strict mode)
//   libbpf pointer returns: NULL, errno set (read at once: nothing may run in between)
//   libc int returns:       -1, errno set
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

internal static class NativeResult
{
    /// <summary>Throws for a negative libbpf return (-errno); returns it otherwise.</summary>
    public static int CheckLibbpf(int result, string what, string? hint = null)
    {
        if (result < 0) throw BpfException.FromErrno(-result, what, hint);
        return result;
    }

    /// <summary>Throws for a NULL libbpf pointer, reading errno at once; returns it otherwise.</summary>
    public static nint CheckLibbpfPointer(nint result, string what)
    {
        if (result == 0) throw BpfException.FromErrno(Marshal.GetLastPInvokeError(), what);
        return result;
    }

    /// <summary>Throws for a libc -1 return, reading errno at once; returns it otherwise.</summary>
    public static int CheckLibc(int result, string what, string? hint = null)
    {
        if (result == -1) throw BpfException.FromErrno(Marshal.GetLastPInvokeError(), what, hint);
        return result;
    }
}
