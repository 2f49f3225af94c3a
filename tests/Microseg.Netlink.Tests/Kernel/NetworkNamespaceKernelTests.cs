// NetworkNamespace.Run really enters the namespace, on a thread of its own, and leaves the
// caller where it was.
using Microseg.TestSupport;

namespace Microseg.Netlink.Tests.Kernel;

public sealed class NetworkNamespaceKernelTests : IDisposable
{
    private readonly TestNamespace ns = new();

    public void Dispose() => ns.Dispose();

    private static string CurrentThreadNetns() => File.ResolveLinkTarget("/proc/thread-self/ns/net", returnFinalTarget: false)!.Name;

    [KernelFact]
    public void Work_runs_in_the_namespace_on_a_dedicated_thread()
    {
        string before = CurrentThreadNetns();
        int caller = Environment.CurrentManagedThreadId;
        // What a process started by `ip netns exec` sees: net:[inode] of the namespace.
        string expected = ns.Exec("readlink", "/proc/self/ns/net").Trim();

        var (inside, thread, pooled) = NetworkNamespace.Run(ns.Name,
            () => (CurrentThreadNetns(), Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));

        Assert.Equal(expected, inside);
        Assert.NotEqual(before, inside);
        Assert.NotEqual(caller, thread);
        Assert.False(pooled);
        Assert.Equal(before, CurrentThreadNetns());
    }

    [KernelFact]
    public void An_exception_in_the_work_reaches_the_caller_unchanged()
    {
        var e = Assert.Throws<InvalidDataException>(() => NetworkNamespace.Run(ns.Name, () => throw new InvalidDataException("from inside")));
        Assert.Equal("from inside", e.Message);
        Assert.Contains(nameof(An_exception_in_the_work_reaches_the_caller_unchanged), e.StackTrace);
    }
}
