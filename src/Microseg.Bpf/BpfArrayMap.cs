// A typed view of a BPF array map, plain (one value per index) or per-CPU (one value per
// possible CPU per index, read and written all at once). Sizes are checked against the
// kernel's map once, when the view is created.
namespace Microseg.Bpf;

public sealed class BpfArrayMap<TValue> : IDisposable
    where TValue : unmanaged
{
    private const uint BPF_MAP_TYPE_ARRAY = 2;
    private const uint BPF_MAP_TYPE_PERCPU_ARRAY = 6;

    /// <summary>Takes ownership of <paramref name="map"/> (disposing the view disposes it).</summary>
    /// <exception cref="BpfException">The map is not an array of this value size.</exception>
    public unsafe BpfArrayMap(BpfMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var info = map.Info();
        string view = $"{typeof(TValue).Name} ({sizeof(TValue)} bytes)";
        if (info.Type is not (BPF_MAP_TYPE_ARRAY or BPF_MAP_TYPE_PERCPU_ARRAY))
            throw new BpfException($"open map {map.Name} as array of {view}: it is a map of type {info.Type}, not an array");
        if (info.KeySize != sizeof(uint) || info.ValueSize != sizeof(TValue))
            throw new BpfException($"open map {map.Name} as array of {view}: the kernel's map has {info.ValueSize}-byte values; the pinned map is from another schema version");
        Map = map;
        MaxEntries = info.MaxEntries;
        PerCpu = info.Type == BPF_MAP_TYPE_PERCPU_ARRAY;
        if (PerCpu)
        {
            int cpus = Interop.Libbpf.libbpf_num_possible_cpus();
            if (cpus <= 0) throw BpfException.FromErrno(-cpus, "count the possible CPUs");
            Cpus = cpus;
        }
        else Cpus = 1;
    }

    public BpfMap Map { get; }

    public string Name => Map.Name;

    public uint MaxEntries { get; }

    /// <summary>A per-CPU array: each index holds one value per possible CPU.</summary>
    public bool PerCpu { get; }

    /// <summary>Values per index: the possible CPUs of a per-CPU array, else 1.</summary>
    public int Cpus { get; }

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

    /// <summary>The value at <paramref name="index"/> (of a plain array).</summary>
    public TValue Lookup(uint index)
    {
        if (PerCpu) throw new InvalidOperationException($"map {Name} is per-CPU: read it with {nameof(LookupPerCpu)}");
        Span<TValue> one = stackalloc TValue[1];
        LookupPerCpu(index, one);
        return one[0];
    }

    /// <summary>Every CPU's value at <paramref name="index"/> into <paramref name="values"/>
    /// (<see cref="Cpus"/> long).</summary>
    public unsafe void LookupPerCpu(uint index, Span<TValue> values)
    {
        if (values.Length != Cpus) throw new ArgumentException($"map {Name} has {Cpus} values per index, not {values.Length}", nameof(values));
        using var fd = Map.Handle.Use();
        int result;
        fixed (TValue* v = values)
            result = Interop.Libbpf.bpf_map_lookup_elem(fd.Value, &index, v);
        if (result < 0) throw BpfException.FromErrno(-result, $"look up index {index} in map {Name}");
    }

    /// <summary>Writes <paramref name="value"/> at <paramref name="index"/> (of a plain array).</summary>
    public void Update(uint index, TValue value)
    {
        if (PerCpu) throw new InvalidOperationException($"map {Name} is per-CPU: write it with {nameof(UpdatePerCpu)}");
        UpdatePerCpu(index, new ReadOnlySpan<TValue>(in value));
    }

    /// <summary>Writes every CPU's value at <paramref name="index"/>.</summary>
    public unsafe void UpdatePerCpu(uint index, ReadOnlySpan<TValue> values)
    {
        if (values.Length != Cpus) throw new ArgumentException($"map {Name} has {Cpus} values per index, not {values.Length}", nameof(values));
        using var fd = Map.Handle.Use();
        int result;
        fixed (TValue* v = values)
            result = Interop.Libbpf.bpf_map_update_elem(fd.Value, &index, v, Interop.Libbpf.BPF_ANY);
        if (result < 0) throw BpfException.FromErrno(-result, $"update index {index} in map {Name}");
    }

    public void Dispose() => Map.Dispose();

    public override string ToString() => $"{(PerCpu ? "per-CPU " : "")}array map {Name}";
}
