// The native libraries the lab calls into.
namespace Microseg.Lab;

internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Libc = "libc";
    }
}
