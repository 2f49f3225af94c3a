// One lock file per subsystem: a full apply holds it exclusively, plug-path runs share it so
// that many guests can start at once. A waiter waits (blocking flock), it is not refused.
using Microseg.Policy;

namespace Microseg.Agent.Subsystems;

public sealed class SubsystemLock : IDisposable
{
    private readonly FileLock held;

    private SubsystemLock(FileLock held) => this.held = held;

    public static SubsystemLock Exclusive(string path) => new(FileLock.Exclusive(path));

    public static SubsystemLock Shared(string path) => new(FileLock.Shared(path));

    public void Dispose() => held.Dispose();
}
