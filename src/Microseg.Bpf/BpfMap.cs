// A BPF map: an fd on the kernel object, from an object file or a pin. Typed access goes
// through a view such as BpfHashMap.
namespace Microseg.Bpf;

public sealed class BpfMap : IDisposable
{
    internal BpfMap(SafeFdHandle handle, string name)
    {
        Handle = handle;
        Name = name;
    }

    public SafeFdHandle Handle { get; }

    /// <summary>The name in the object file, or the kernel's (at most 15 bytes) for a pinned one.</summary>
    public string Name { get; }

    /// <summary>Opens the map pinned at <paramref name="path"/> (bpf_obj_get).</summary>
    public static BpfMap OpenPinned(string path)
    {
        var handle = ObjectInfo.OpenPinned(path, "map");
        try
        {
            var info = ObjectInfo.Get<Interop.Libbpf.bpf_map_info>(handle, $"pinned map {path}");
            return new BpfMap(handle, InfoName(info));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Pins the map at <paramref name="path"/> on bpffs; undo with <see cref="Bpffs.Unpin"/>.</summary>
    public void Pin(string path) => ObjectInfo.Pin(Handle, path, $"map {Name}");

    public BpfMapInfo Info()
    {
        var info = ObjectInfo.Get<Interop.Libbpf.bpf_map_info>(Handle, $"map {Name}");
        return new BpfMapInfo(info.id, info.type, info.key_size, info.value_size, info.max_entries, info.map_flags, InfoName(info));
    }

    /// <summary>Closes this fd; the map stays in the kernel while pinned or used by a program.</summary>
    public void Dispose() => Handle.Dispose();

    public override string ToString() => $"map {Name}";

    private static unsafe string InfoName(Interop.Libbpf.bpf_map_info info) =>
        ObjectInfo.CString(new ReadOnlySpan<byte>(info.name, Interop.Libbpf.BPF_OBJ_NAME_LEN));
}

/// <param name="Type">enum bpf_map_type (1 = hash).</param>
/// <param name="Flags">map_flags (1 = BPF_F_NO_PREALLOC).</param>
public sealed record BpfMapInfo(uint Id, uint Type, uint KeySize, uint ValueSize, uint MaxEntries, uint Flags, string Name);
