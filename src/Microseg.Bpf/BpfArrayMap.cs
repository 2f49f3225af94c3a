// A typed view of a BPF array map (keys 0..max_entries-1, every slot always present). Value
// size checked against the kernel's map once, when the view is created.
namespace Microseg.Bpf;

public sealed class BpfArrayMap<TValue> : IDisposable
    where TValue : unmanaged
{
    private const uint BPF_MAP_TYPE_ARRAY = 2;

    /// <summary>Takes ownership of <paramref name="map"/> (disposing the view disposes it).</summary>
    /// <exception cref="BpfException">The map is not an array of this value size.</exception>
    public unsafe BpfArrayMap(BpfMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var info = map.Info();
        string view = $"array map of {typeof(TValue).Name} ({sizeof(TValue)} bytes)";
        if (info.Type != BPF_MAP_TYPE_ARRAY)
            throw new BpfException($"open map {map.Name} as {view}: it is a map of type {info.Type}, not an array");
        if (info.KeySize != sizeof(uint) || info.ValueSize != sizeof(TValue))
            throw new BpfException($"open map {map.Name} as {view}: the kernel's map has {info.KeySize}-byte keys and {info.ValueSize}-byte values; the pinned map is from another schema version");
        Map = map;
        Length = info.MaxEntries;
    }

    public BpfMap Map { get; }

    public string Name => Map.Name;

    /// <summary>The number of slots (max_entries).</summary>
    public uint Length { get; }

    /// <summary>Opens the array map pinned at <paramref name="path"/>.</summary>
    public static BpfArrayMap<TValue> OpenPinned(string path)
    {
        var map = BpfMap.OpenPinned(path);
        try { return new BpfArrayMap<TValue>(map); }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="Length"/>.</exception>
    public unsafe TValue this[uint index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Length);
            using var fd = Map.Handle.Use();
            TValue value;
            int result = Interop.Libbpf.bpf_map_lookup_elem(fd.Value, &index, &value);
            if (result < 0) throw BpfException.FromErrno(-result, $"read slot {index} of map {Name}");
            return value;
        }
        set
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Length);
            using var fd = Map.Handle.Use();
            int result = Interop.Libbpf.bpf_map_update_elem(fd.Value, &index, &value, Interop.Libbpf.BPF_ANY);
            if (result < 0) throw BpfException.FromErrno(-result, $"write slot {index} of map {Name}");
        }
    }

    public void Dispose() => Map.Dispose();

    public override string ToString() => $"array map {Name}";
}
