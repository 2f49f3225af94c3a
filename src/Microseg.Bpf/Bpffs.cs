// bpffs, where pins live: is a path on it, mount it, make pin directories, remove pins.
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

public static class Bpffs
{
    /// <summary>statfs f_type of bpffs.</summary>
    public const long Magic = Interop.Libc.BPF_FS_MAGIC;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>True when <paramref name="path"/> exists and is on a bpffs mount.</summary>
    public static unsafe bool IsOnBpffs(string path)
    {
        Interop.Libc.statfs_t buf;
        if (Interop.Libc.statfs(path, &buf) == -1)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Errno.ENOENT or Errno.ENOTDIR) return false;
            throw BpfException.FromErrno(errno, $"statfs {path}");
        }
        return buf.f_type == Magic;
    }

    /// <summary>Mounts a bpffs at <paramref name="mountPoint"/> (creating the directory) unless
    /// one is there already. Returns true when it mounted one.</summary>
    public static bool EnsureMounted(string mountPoint)
    {
        if (IsOnBpffs(mountPoint)) return false;
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("bpffs exists only on Linux");
        Directory.CreateDirectory(mountPoint, DirectoryMode);
        NativeResult.CheckLibc(Interop.Libc.mount("bpffs", mountPoint, "bpf", 0, "mode=0700"),
            $"mount bpffs at {mountPoint}", "mounting needs root (CAP_SYS_ADMIN)");
        return true;
    }

    /// <summary>Unmounts the bpffs at <paramref name="mountPoint"/>: every pin in it goes, and with
    /// them the objects nothing else holds.</summary>
    public static void Unmount(string mountPoint)
    {
        if (!IsOnBpffs(mountPoint)) throw new BpfException($"unmount {mountPoint}: it is not a bpffs mount");
        NativeResult.CheckLibc(Interop.Libc.umount2(mountPoint, 0), $"unmount bpffs at {mountPoint}");
    }

    /// <summary>Creates a pin directory (and its parents) inside an existing bpffs mount.</summary>
    public static void CreateDirectory(string path)
    {
        string full = Path.GetFullPath(path);
        string? existing = full;
        while (existing is not null && !Directory.Exists(existing)) existing = Path.GetDirectoryName(existing);
        if (existing is null || !IsOnBpffs(existing))
            throw new BpfException($"create pin directory {full}: {existing ?? "/"} is not on a bpffs mount; mount one first (mount -t bpf bpffs /sys/fs/bpf)");
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("bpffs exists only on Linux");
        Directory.CreateDirectory(full, DirectoryMode);
    }

    /// <summary>Removes a pin (program, map or link). False when nothing was pinned there.
    /// The object itself goes when nothing else (fd, link, program) holds it.</summary>
    public static bool Unpin(string path)
    {
        if (Interop.Libc.unlink(path) == 0) return true;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Errno.ENOENT) return false;
        throw BpfException.FromErrno(errno, $"unpin {path}");
    }
}
