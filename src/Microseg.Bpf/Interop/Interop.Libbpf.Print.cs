// libbpf's log hook (libbpf.h) and the libc formatter its messages need.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>fn: int (*)(enum libbpf_print_level, const char *, va_list); NULL silences.
        /// Returns the previous function.</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial nint libbpf_set_print(delegate* unmanaged<int, byte*, nint, int> fn);
    }

    internal static partial class Libc
    {
        // va_list crosses as a pointer: on x86-64 it is an array that decays to one, and on
        // AAPCS64 the 32-byte struct is passed by reference.
        [LibraryImport(Libraries.Libc)]
        internal static unsafe partial int vsnprintf(byte* str, nuint size, byte* format, nint ap);
    }
}
