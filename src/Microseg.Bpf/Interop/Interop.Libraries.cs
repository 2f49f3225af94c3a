namespace Microseg.Bpf;

internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Libbpf = "libbpf.so.1";
        internal const string Libc = "libc";
    }
}
