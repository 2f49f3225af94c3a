// A typed view of a BPF hash map. Key and value sizes are checked against the kernel's map
// once, when the view is created; after that every call is one bpf() syscall (reading the
// whole map: one per batch of entries).
namespace Microseg.Bpf;

public sealed class BpfHashMap<TKey, TValue> : IDisposable
    where TKey : unmanaged
    where TValue : unmanaged
{
    private const uint BPF_MAP_TYPE_HASH = 1;
    private const uint BPF_MAP_TYPE_LRU_HASH = 9;

    /// <summary>Takes ownership of <paramref name="map"/> (disposing the view disposes it).</summary>
    /// <exception cref="BpfException">The map is not a hash map of these key and value sizes.</exception>
    public unsafe BpfHashMap(BpfMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var info = map.Info();
        string view = $"{typeof(TKey).Name} ({sizeof(TKey)} bytes) → {typeof(TValue).Name} ({sizeof(TValue)} bytes)";
        if (info.Type is not (BPF_MAP_TYPE_HASH or BPF_MAP_TYPE_LRU_HASH))
            throw new BpfException($"open map {map.Name} as hash map {view}: it is a map of type {info.Type}, not a hash map");
        if (info.KeySize != sizeof(TKey) || info.ValueSize != sizeof(TValue))
            throw new BpfException($"open map {map.Name} as hash map {view}: the kernel's map has {info.KeySize}-byte keys and {info.ValueSize}-byte values; the pinned map is from another schema version");
        Map = map;
        MaxEntries = info.MaxEntries;
    }

    public BpfMap Map { get; }

    public string Name => Map.Name;

    public uint MaxEntries { get; }

    /// <summary>Opens the hash map pinned at <paramref name="path"/>.</summary>
    public static BpfHashMap<TKey, TValue> OpenPinned(string path)
    {
        var map = BpfMap.OpenPinned(path);
        try { return new BpfHashMap<TKey, TValue>(map); }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>Creates or replaces the entry (BPF_ANY).</summary>
    public unsafe void Update(in TKey key, in TValue value)
    {
        using var fd = Map.Handle.Use();
        int result;
        fixed (TKey* k = &key)
        fixed (TValue* v = &value)
            result = Interop.Libbpf.bpf_map_update_elem(fd.Value, k, v, Interop.Libbpf.BPF_ANY);
        if (result < 0)
            throw BpfException.FromErrno(-result, $"update {key} in map {Name}",
                -result == Errno.E2BIG ? $"the map is full ({MaxEntries} entries)" : null);
    }

    /// <summary>False when the key is absent (ENOENT); absence is not an error.</summary>
    public unsafe bool TryLookup(in TKey key, out TValue value)
    {
        using var fd = Map.Handle.Use();
        int result;
        TValue found;
        fixed (TKey* k = &key)
            result = Interop.Libbpf.bpf_map_lookup_elem(fd.Value, k, &found);
        if (result == -Errno.ENOENT)
        {
            value = default;
            return false;
        }
        if (result < 0) throw BpfException.FromErrno(-result, $"look up {key} in map {Name}");
        value = found;
        return true;
    }

    /// <summary>False when the key was absent (ENOENT).</summary>
    public unsafe bool Delete(in TKey key)
    {
        using var fd = Map.Handle.Use();
        int result;
        fixed (TKey* k = &key)
            result = Interop.Libbpf.bpf_map_delete_elem(fd.Value, k);
        if (result == -Errno.ENOENT) return false;
        if (result < 0) throw BpfException.FromErrno(-result, $"delete {key} from map {Name}");
        return true;
    }

    /// <summary>A snapshot of the keys, safe to delete from while walking it.</summary>
    public IReadOnlyList<TKey> Keys()
    {
        var keys = new List<TKey>();
        if (!ReadBatches((k, _) => keys.Add(k))) Walk(keys.Add);
        return keys;
    }

    /// <summary>A snapshot of the entries, read a chunk at a time (BPF_MAP_LOOKUP_BATCH: one
    /// bpf() call per few thousand entries, where walking the keys costs two per entry).</summary>
    public IReadOnlyList<KeyValuePair<TKey, TValue>> Entries()
    {
        var entries = new List<KeyValuePair<TKey, TValue>>();
        if (ReadBatches((k, v) => entries.Add(new(k, v)))) return entries;
        // A kernel without batch lookups for this map: walk the keys, look each one up; a key
        // deleted between the walk and its lookup is left out.
        foreach (var key in Keys())
            if (TryLookup(key, out var value))
                entries.Add(new(key, value));
        return entries;
    }

    /// <summary>The number of entries (the kernel keeps no count for us: they are read in batches).</summary>
    public int Count()
    {
        int count = 0;
        if (!ReadBatches((_, _) => count++)) Walk(_ => count++);
        return count;
    }

    /// <summary>Entries at most this many per batch call: 4,096 (or the map's size, if smaller).</summary>
    internal const int BatchEntries = 4096;

    /// <summary>Every entry, read with BPF_MAP_LOOKUP_BATCH; false, having visited nothing, when
    /// the kernel has no batch lookup for this map (before Linux 5.6).</summary>
    private unsafe bool ReadBatches(Action<TKey, TValue> visit)
    {
        using var fd = Map.Handle.Use();
        int chunk = (int)Math.Clamp(MaxEntries, 1u, (uint)BatchEntries);
        var keys = new TKey[chunk];
        var values = new TValue[chunk];
        // The batch position is opaque: a bucket index for hash maps, at most a key in size.
        int positionSize = Math.Max(sizeof(TKey), sizeof(ulong));
        byte* inBatch = stackalloc byte[positionSize];
        byte* outBatch = stackalloc byte[positionSize];
        bool first = true;
        for (long read = 0; ;)
        {
            uint count = (uint)keys.Length;
            int result;
            fixed (TKey* k = keys)
            fixed (TValue* v = values)
                result = Interop.Libbpf.bpf_map_lookup_batch(fd.Value, first ? null : inBatch, outBatch, k, v, &count, null);
            if (result < 0 && result != -Errno.ENOENT)
            {
                if (first && result is -Errno.EINVAL or -Errno.ENOTSUPP or -Errno.EOPNOTSUPP) return false;
                // One hash bucket holds more entries than the buffers: retry with larger ones.
                if (result == -Errno.ENOSPC && count == 0 && keys.Length < MaxEntries)
                {
                    keys = new TKey[Math.Min(keys.Length * 2L, MaxEntries)];
                    values = new TValue[keys.Length];
                    continue;
                }
                throw BpfException.FromErrno(-result, $"read the entries of map {Name} in batches");
            }
            for (int i = 0; i < count; i++) visit(keys[i], values[i]);
            read += count;
            if (result == -Errno.ENOENT) return true;
            if (read > MaxEntries)
                throw new BpfException($"read the entries of map {Name}: more than {MaxEntries} entries; the map changed during the read");
            Buffer.MemoryCopy(outBatch, inBatch, positionSize, positionSize);
            first = false;
        }
    }
    public void Dispose() => Map.Dispose();

    public override string ToString() => $"hash map {Name}";

    private unsafe void Walk(Action<TKey> visit)
    {
        using var fd = Map.Handle.Use();
        TKey current, next;
        TKey* previous = null; // NULL asks for the first key
        // A key deleted by someone else mid-walk makes the kernel restart from the first key;
        // the bound turns that (never-ending in the worst case) into an error.
        for (long seen = 0; ; seen++)
        {
            int result = Interop.Libbpf.bpf_map_get_next_key(fd.Value, previous, &next);
            if (result == -Errno.ENOENT) return;
            if (result < 0) throw BpfException.FromErrno(-result, $"walk the keys of map {Name}");
            if (seen > MaxEntries)
                throw new BpfException($"walk the keys of map {Name}: more than {MaxEntries} keys; the map changed during the walk");
            visit(next);
            current = next;
            previous = &current;
        }
    }
}
