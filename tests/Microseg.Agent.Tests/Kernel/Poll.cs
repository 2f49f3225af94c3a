// Waiting on a condition instead of a fixed sleep: as short as the kernel allows on an idle
// machine, as long as a loaded one needs, and bounded.
using System.Diagnostics;

namespace Microseg.Agent.Tests.Kernel;

public static class Poll
{
    /// <summary>True as soon as <paramref name="condition"/> holds; false when it did not within <paramref name="timeout"/>.</summary>
    public static bool Until(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(10);
        }
        return true;
    }
}
