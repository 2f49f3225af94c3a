// Runs work inside a named network namespace (/run/netns/NAME, as `ip netns add` makes them).
// setns moves only the calling thread, so the work gets a thread of its own that is never
// returned to a pool and ends with the work. Sockets opened there stay in that namespace.
using System.Runtime.ExceptionServices;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

public static class NetworkNamespace
{
    /// <summary>Where iproute2 keeps named network namespaces.</summary>
    public const string NamedNamespacesDirectory = "/run/netns";

    /// <summary>Runs <paramref name="work"/> on a new thread inside namespace <paramref name="name"/> and returns its result.</summary>
    /// <exception cref="NetlinkException">the namespace cannot be opened or entered.</exception>
    /// <remarks>An exception thrown by <paramref name="work"/> is rethrown here with its original stack.</remarks>
    public static T Run<T>(string name, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        string path = PathOf(name);
        int fd = Interop.Libc.open(path, O_RDONLY | O_CLOEXEC, mode: 0);
        if (fd < 0) throw NetlinkException.FromLastError($"open network namespace {path}");
        using var handle = new SafeFdHandle(fd);

        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                if (Interop.Libc.setns(handle, CLONE_NEWNET) != 0)
                    throw NetlinkException.FromLastError($"setns to network namespace {path}");
                result = work();
            }
            catch (Exception e)
            {
                // Carried to the caller's thread and rethrown there, not swallowed.
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    /// <inheritdoc cref="Run{T}(string, Func{T})"/>
    public static void Run(string name, Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Run(name, () => { work(); return true; });
    }

    private static string PathOf(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name is "." or ".." || name.Contains('/') || name.Contains('\0'))
            throw new ArgumentException($"'{name}' is not a network namespace name", nameof(name));
        return Path.Combine(NamedNamespacesDirectory, name);
    }
}
