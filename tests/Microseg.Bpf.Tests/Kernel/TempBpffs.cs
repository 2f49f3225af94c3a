// A bpffs mounted for one test under /run (not /sys/fs/bpf: `ip netns exec` remounts /sys),
// unmounted and removed on Dispose, taking every pin in it along.
using System.Runtime.InteropServices;

namespace Microseg.Bpf.Tests.Kernel;

internal sealed partial class TempBpffs : IDisposable
{
    private const string Parent = "/run/microseg-tests";

    public TempBpffs()
    {
        Directory.CreateDirectory(Parent);
        Path = System.IO.Path.Combine(Parent, "bpffs-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            Assert.True(Bpffs.EnsureMounted(Path), $"{Path} was already a bpffs");
        }
        catch
        {
            Directory.Delete(Path);
            throw;
        }
    }

    public string Path { get; }

    public string File(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        // Not through Bpffs.Unmount: cleanup must not depend on the code under test.
        if (umount2(Path, 0) != 0)
            throw new InvalidOperationException($"umount {Path}: errno {Marshal.GetLastPInvokeError()}");
        Directory.Delete(Path);
        try
        {
            Directory.Delete(Parent); // the last one out removes the shared parent
        }
        catch (IOException)
        {
            // another test's bpffs is still in it
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);
}
