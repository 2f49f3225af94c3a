// The one place that names the native libraries this assembly calls.
internal static partial class Interop
{
    internal static class Libraries
    {
        internal const string Libc = "libc";
    }
}
