// BPF_OBJ_GET_INFO_BY_FD and pinning, shared by programs, maps and links.
using System.Runtime.InteropServices;
using System.Text;

namespace Microseg.Bpf;

internal static class ObjectInfo
{
    /// <summary>Fills <typeparamref name="T"/>, a mirror of the leading part of the kernel's
    /// bpf_*_info; the kernel writes min(our size, its size) and zeroes nothing else.</summary>
    public static unsafe T Get<T>(SafeFdHandle handle, string what) where T : unmanaged
    {
        T info = default;
        uint length = (uint)sizeof(T);
        using var fd = handle.Use();
        NativeResult.CheckLibbpf(Interop.Libbpf.bpf_obj_get_info_by_fd(fd.Value, &info, &length), $"get info of {what}");
        return info;
    }

    public static void Pin(SafeFdHandle handle, string path, string what)
    {
        using var fd = handle.Use();
        NativeResult.CheckLibbpf(Interop.Libbpf.bpf_obj_pin(fd.Value, path), $"pin {what} at {path}", PinHint(path));
    }

    /// <summary>bpf_obj_get, then a check that the pin holds a <paramref name="kind"/> ("prog",
    /// "map" or "link"): bpf_obj_get opens any of them, and BPF_OBJ_GET_INFO_BY_FD would fill a
    /// program's info into a link's struct without complaint.</summary>
    public static SafeFdHandle OpenPinned(string path, string kind)
    {
        string what = kind == "prog" ? "program" : kind;
        int fd = Interop.Libbpf.bpf_obj_get(path);
        // Why a pin cannot be opened (no directory, not bpffs) is asked only when it cannot.
        var handle = new SafeFdHandle(NativeResult.CheckLibbpf(fd, $"open pinned {what} {path}", fd < 0 ? PinHint(path) : null));
        string actual = Kind(handle);
        if (actual == kind) return handle;
        handle.Dispose();
        throw new BpfException($"open pinned {what} {path}: it holds a BPF {(actual == "prog" ? "program" : actual)}, not a {what}");
    }

    /// <summary>prog, map, link (or another anon inode kind), from the fd's /proc link
    /// "anon_inode:bpf-link".</summary>
    private static unsafe string Kind(SafeFdHandle handle)
    {
        using var fd = handle.Use();
        // readlink(2) into the stack: opening every link pin of a host (a full apply) reads
        // thousands of these, and FileInfo.LinkTarget's path handling cost more than the call.
        Span<byte> path = stackalloc byte[32];
        Span<byte> target = stackalloc byte[64];
        if (!System.Text.Unicode.Utf8.TryWrite(path, $"/proc/self/fd/{fd.Value}\0", out _)) return "unknown object";
        nint n;
        fixed (byte* p = path)
        fixed (byte* t = target)
            n = Interop.Libc.readlink(p, t, (nuint)target.Length);
        if (n <= 0) return "unknown object";
        var text = target[..(int)n];
        return text.StartsWith("anon_inode:bpf-"u8)
            ? Encoding.ASCII.GetString(text["anon_inode:bpf-".Length..])
            : Encoding.UTF8.GetString(text);
    }

    public static string CString(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
    }

    private static string? PinHint(string path)
    {
        string? dir = Path.GetDirectoryName(path);
        if (dir is null || !Directory.Exists(dir)) return $"the directory {dir} does not exist (Bpffs.CreateDirectory)";
        if (!Bpffs.IsOnBpffs(dir)) return $"{dir} is not on a bpffs mount";
        return null;
    }

    internal static unsafe string Tag(byte* tag) => Convert.ToHexStringLower(new ReadOnlySpan<byte>(tag, Interop.Libbpf.BPF_TAG_SIZE));
}
