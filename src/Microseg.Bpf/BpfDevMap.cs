// A typed view of a device map (BPF_MAP_TYPE_DEVMAP or DEVMAP_HASH) whose values are bare
// ifindexes (the 4-byte form of struct bpf_devmap_val): what XDP programs redirect through.
// Sizes and type are checked once, when the view is created.
//
// The kernel resolves an ifindex written here in the network namespace of the thread that
// writes it, takes a reference on that netdev, and removes the entry itself when the netdev
// is unregistered.
namespace Microseg.Bpf;

public sealed class BpfDevMap : IDisposable
{
    private const uint BPF_MAP_TYPE_DEVMAP = 14;
    private const uint BPF_MAP_TYPE_DEVMAP_HASH = 25;

    /// <summary>Takes ownership of <paramref name="map"/> (disposing the view disposes it).</summary>
    /// <exception cref="BpfException">The map is not a device map with 4-byte keys and values.</exception>
    public BpfDevMap(BpfMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var info = map.Info();
        if (info.Type is not (BPF_MAP_TYPE_DEVMAP or BPF_MAP_TYPE_DEVMAP_HASH))
            throw new BpfException($"open map {map.Name} as a device map: it is a map of type {info.Type}, not a devmap");
        if (info.KeySize != sizeof(uint) || info.ValueSize != sizeof(uint))
            throw new BpfException($"open map {map.Name} as a device map of ifindexes: the kernel's map has {info.KeySize}-byte keys and {info.ValueSize}-byte values; the pinned map is from another schema version");
        Map = map;
        MaxEntries = info.MaxEntries;
        IsHash = info.Type == BPF_MAP_TYPE_DEVMAP_HASH;
    }

    public BpfMap Map { get; }

    public string Name => Map.Name;

    public uint MaxEntries { get; }

    /// <summary>DEVMAP_HASH (sparse keys) rather than DEVMAP (array indexed 0..max-1).</summary>
    public bool IsHash { get; }

    public static BpfDevMap OpenPinned(string path)
    {
        var map = BpfMap.OpenPinned(path);
        try { return new BpfDevMap(map); }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>Points <paramref name="key"/> at the interface <paramref name="ifIndex"/> of the
    /// calling thread's network namespace.</summary>
    public unsafe void Set(uint key, int ifIndex)
    {
        using var fd = Map.Handle.Use();
        uint value = (uint)ifIndex;
        int result = Interop.Libbpf.bpf_map_update_elem(fd.Value, &key, &value, Interop.Libbpf.BPF_ANY);
        if (result < 0)
        {
            int errno = -result;
            throw BpfException.FromErrno(errno, $"set {key} → {NetDevice.Describe(ifIndex)} in device map {Name}", errno switch
            {
                // The kernel says EINVAL for an ifindex it cannot find in the writer's namespace.
                Errno.EINVAL or Errno.ENODEV when !NetDevice.Exists(ifIndex) => $"no interface has ifindex {ifIndex} in this network namespace (the kernel resolves it in the writer's)",
                Errno.E2BIG => $"the map is full ({MaxEntries} entries)",
                _ => null,
            });
        }
    }

    /// <summary>False when the key is absent (ENOENT).</summary>
    public unsafe bool TryLookup(uint key, out int ifIndex)
    {
        using var fd = Map.Handle.Use();
        uint value;
        int result = Interop.Libbpf.bpf_map_lookup_elem(fd.Value, &key, &value);
        if (result == -Errno.ENOENT)
        {
            ifIndex = 0;
            return false;
        }
        if (result < 0) throw BpfException.FromErrno(-result, $"look up {key} in device map {Name}");
        ifIndex = (int)value;
        return true;
    }

    /// <summary>False when the key was absent (ENOENT).</summary>
    public unsafe bool Delete(uint key)
    {
        using var fd = Map.Handle.Use();
        int result = Interop.Libbpf.bpf_map_delete_elem(fd.Value, &key);
        if (result == -Errno.ENOENT) return false;
        if (result < 0) throw BpfException.FromErrno(-result, $"delete {key} from device map {Name}");
        return true;
    }

    /// <summary>A snapshot of the entries (key → ifindex). For an array DEVMAP, empty slots are left out.</summary>
    public unsafe IReadOnlyList<KeyValuePair<uint, int>> Entries()
    {
        var entries = new List<KeyValuePair<uint, int>>();
        using var fd = Map.Handle.Use();
        uint current, next;
        uint* previous = null;
        for (long seen = 0; ; seen++)
        {
            int result = Interop.Libbpf.bpf_map_get_next_key(fd.Value, previous, &next);
            if (result == -Errno.ENOENT) break;
            if (result < 0) throw BpfException.FromErrno(-result, $"walk the keys of device map {Name}");
            if (seen > MaxEntries)
                throw new BpfException($"walk the keys of device map {Name}: more than {MaxEntries} keys; the map changed during the walk");
            if (TryLookup(next, out int ifIndex)) entries.Add(new(next, ifIndex));
            current = next;
            previous = &current;
        }
        return entries;
    }

    public void Dispose() => Map.Dispose();

    public override string ToString() => $"device map {Name}";
}
