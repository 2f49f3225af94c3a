using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int IF_NAMESIZE = 16;

        /// <summary>NULL with errno (ENXIO/ENODEV) when no interface has that index.</summary>
        [LibraryImport(Libraries.Libc, SetLastError = true)]
        internal static unsafe partial byte* if_indextoname(uint ifindex, byte* ifname);
    }
}
