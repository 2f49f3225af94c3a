// The native libraries the policy library calls into (only libc, for file locks).
namespace Microseg.Policy;

internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Libc = "libc";
    }
}
