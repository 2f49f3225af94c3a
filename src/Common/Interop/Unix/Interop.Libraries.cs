// The one place that names the native libraries Microseg.Bpf and Microseg.Netlink call.
// Shared source (src/Common), compiled into each assembly as an internal type.
internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Libbpf = "libbpf.so.1";
        internal const string Libc = "libc";
    }
}
