// FileLock on flock(2): shared holders coexist, an exclusive one excludes them, a timed wait
// gives up with the path in the message, a blocking wait goes on when the holder lets go.
using Microseg.TestSupport;

namespace Microseg.Policy.Tests;

public sealed class FileLockTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Fact]
    public void Shared_locks_coexist_and_an_exclusive_one_waits_for_them()
    {
        var path = dir.File("sub/lock");
        using (FileLock.Shared(path))
        using (FileLock.Shared(path, TimeSpan.FromSeconds(1)))
        {
            var e = Assert.Throws<TimeoutException>(() => FileLock.Exclusive(path, TimeSpan.FromMilliseconds(100)));
            Assert.Contains(path, e.Message);
            Assert.Contains("exclusive", e.Message);
        }
        using var exclusive = FileLock.Exclusive(path, TimeSpan.FromSeconds(1));
        Assert.Throws<TimeoutException>(() => FileLock.Shared(path, TimeSpan.FromMilliseconds(50)));
    }

    [Fact]
    public void A_blocking_wait_takes_the_lock_when_the_holder_lets_go()
    {
        var path = dir.File("lock");
        var holder = FileLock.Exclusive(path);
        var taken = new ManualResetEventSlim();
        var waiter = new Thread(() =>
        {
            using (FileLock.Exclusive(path)) taken.Set();
        });
        waiter.Start();
        Assert.False(taken.Wait(TimeSpan.FromMilliseconds(200)), "the lock was taken while held");
        holder.Dispose();
        Assert.True(taken.Wait(TimeSpan.FromSeconds(10)), "the waiter did not get the lock after it was released");
        waiter.Join();
    }
}
