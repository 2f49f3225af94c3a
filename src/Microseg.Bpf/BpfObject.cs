// A BPF ELF object as libbpf sees it: opened from memory, configured (map pin paths), loaded
// into the kernel once. Programs and maps taken from it are independent handles the caller owns.
using System.Runtime.InteropServices;
using System.Text;

namespace Microseg.Bpf;

public sealed class BpfObject : IDisposable
{
    // Big enough for the verifier's log of a failed load of our programs; it only costs
    // address space until the kernel writes into it.
    private const int VerifierLogSize = 4 << 20;

    private readonly SafeBpfObjectHandle handle;
    private readonly List<string> pinPaths = [];
    private bool loadAttempted;

    private BpfObject(SafeBpfObjectHandle handle, string name)
    {
        this.handle = handle;
        Name = name;
    }

    public string Name { get; }

    public bool IsLoaded { get; private set; }

    /// <summary>Opens an ELF object from memory (bpf_object__open_mem). Nothing reaches the kernel yet.</summary>
    public static unsafe BpfObject OpenMemory(ReadOnlySpan<byte> elf, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var handle = new SafeBpfObjectHandle(elf, VerifierLogSize);
        nint utf8Name = Marshal.StringToCoTaskMemUTF8(name);
        try
        {
            var opts = new Interop.Libbpf.bpf_object_open_opts
            {
                sz = (nuint)sizeof(Interop.Libbpf.bpf_object_open_opts),
                object_name = (byte*)utf8Name,
                kernel_log_buf = (byte*)handle.LogBuffer,
                kernel_log_size = (nuint)handle.LogSize,
            };
            nint obj = Interop.Libbpf.bpf_object__open_mem((void*)handle.Elf, (nuint)elf.Length, &opts);
            handle.SetObject(NativeResult.CheckLibbpfPointer(obj, $"open BPF object {name} ({elf.Length} bytes)"));
            return new BpfObject(handle, name);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        finally
        {
            Marshal.FreeCoTaskMem(utf8Name);
        }
    }

    /// <summary>
    /// Pins the map at <paramref name="path"/> on load (bpf_map__set_pin_path). When a map is
    /// already pinned there, libbpf reuses it (if type, key/value size, max_entries and flags
    /// match) instead of creating one; otherwise it creates the map and pins it there.
    /// </summary>
    public void SetMapPinPath(string mapName, string path)
    {
        ThrowIfLoadAttempted($"set the pin path of map {mapName} in");
        nint map = FindMap(mapName);
        NativeResult.CheckLibbpf(Interop.Libbpf.bpf_map__set_pin_path(map, path), $"set pin path of map {mapName} in {Name} to {path}");
        pinPaths.Add(path);
    }

    /// <summary>
    /// Sizes the map (bpf_map__set_max_entries) before load, instead of the max_entries the
    /// object declares. A pinned map is reused only if its size matches, so set the same size
    /// on every load that shares the pin.
    /// </summary>
    public void SetMapMaxEntries(string mapName, uint maxEntries)
    {
        ThrowIfLoadAttempted($"set max_entries of map {mapName} in");
        ArgumentOutOfRangeException.ThrowIfZero(maxEntries);
        nint map = FindMap(mapName);
        NativeResult.CheckLibbpf(Interop.Libbpf.bpf_map__set_max_entries(map, maxEntries), $"set max_entries of map {mapName} in {Name} to {maxEntries}");
    }

    /// <summary>Creates (or reuses pinned) maps and loads every program, running the verifier.</summary>
    public void Load()
    {
        ThrowIfLoadAttempted("load");
        loadAttempted = true; // libbpf refuses a second attempt, failed or not
        int result = Interop.Libbpf.bpf_object__load(handle.Object);
        if (result < 0)
        {
            int errno = -result;
            string log = handle.ReadLog();
            throw BpfException.FromErrno(errno, $"load BPF object {Name}", LoadHint(errno, log), log.Length > 0 ? log : null);
        }
        IsLoaded = true;
    }

    /// <summary>A new handle on a loaded program; it stays valid after this object is disposed.</summary>
    public BpfProgram Program(string name)
    {
        ThrowIfNotLoaded($"take program {name}");
        nint prog = NativeResult.CheckLibbpfPointer(
            Interop.Libbpf.bpf_object__find_program_by_name(handle.Object, name), $"find program {name} in {Name}");
        int fd = NativeResult.CheckLibbpf(Interop.Libbpf.bpf_program__fd(prog), $"get fd of program {name}");
        return new BpfProgram(SafeFdHandle.DuplicateOf(fd, $"program {name}"), name);
    }

    /// <summary>A new handle on a loaded map; it stays valid after this object is disposed.</summary>
    public BpfMap Map(string name)
    {
        ThrowIfNotLoaded($"take map {name}");
        nint map = FindMap(name);
        int fd = NativeResult.CheckLibbpf(Interop.Libbpf.bpf_map__fd(map), $"get fd of map {name}");
        return new BpfMap(SafeFdHandle.DuplicateOf(fd, $"map {name}"), name);
    }

    /// <summary>Closes the object (bpf_object__close): its own fds go; handles taken from it,
    /// pins and links stay.</summary>
    public void Dispose() => handle.Dispose();

    public override string ToString() => $"BPF object {Name}";

    private nint FindMap(string name) => NativeResult.CheckLibbpfPointer(
        Interop.Libbpf.bpf_object__find_map_by_name(handle.Object, name), $"find map {name} in {Name}");

    private string? LoadHint(int errno, string log)
    {
        if (errno == Errno.EINVAL && pinPaths.Any(File.Exists))
            return $"a pinned map must match the object's map (type, key/value size, max_entries, flags) to be reused: check {string.Join(", ", pinPaths.Where(File.Exists))}";
        if (errno == Errno.EPERM)
            return "loading BPF programs needs root (CAP_BPF and CAP_NET_ADMIN)";
        string? last = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(line => !line.StartsWith("processed ", StringComparison.Ordinal));
        return last is null ? null : $"verifier: {last}";
    }

    private void ThrowIfLoadAttempted(string action)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, this);
        if (loadAttempted)
            throw new InvalidOperationException($"{action} {Name}: the object was loaded already{(IsLoaded ? "" : " (and failed); open it again")}");
    }

    private void ThrowIfNotLoaded(string action)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, this);
        if (!IsLoaded) throw new InvalidOperationException($"{action} from {Name}: the object is not loaded");
    }

    /// <summary>Owns the libbpf object and the native memory libbpf points into (the ELF copy,
    /// the verifier log buffer), released together.</summary>
    private sealed unsafe class SafeBpfObjectHandle : SafeHandle
    {
        public SafeBpfObjectHandle(ReadOnlySpan<byte> elf, int logSize) : base(0, ownsHandle: true)
        {
            Elf = (nint)NativeMemory.Alloc((nuint)Math.Max(elf.Length, 1));
            elf.CopyTo(new Span<byte>((void*)Elf, elf.Length));
            LogSize = logSize;
            LogBuffer = (nint)NativeMemory.AllocZeroed((nuint)logSize);
        }

        public nint Elf { get; }
        public nint LogBuffer { get; }
        public int LogSize { get; }
        public nint Object => handle;

        public override bool IsInvalid => handle == 0;

        public void SetObject(nint obj) => SetHandle(obj);

        public string ReadLog()
        {
            var log = new ReadOnlySpan<byte>((void*)LogBuffer, LogSize);
            int end = log.IndexOf((byte)0);
            return Encoding.UTF8.GetString(end < 0 ? log : log[..end]);
        }

        protected override bool ReleaseHandle()
        {
            if (handle != 0) Interop.Libbpf.bpf_object__close(handle);
            NativeMemory.Free((void*)Elf);
            NativeMemory.Free((void*)LogBuffer);
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            // Never opened (open failed): ReleaseHandle does not run for an invalid handle.
            if (IsInvalid && !IsClosed)
            {
                NativeMemory.Free((void*)Elf);
                NativeMemory.Free((void*)LogBuffer);
            }
            base.Dispose(disposing);
        }
    }
}
