// The kernel's own figure for a map's memory: the "memlock:" line of /proc/self/fdinfo/<fd>.
// Since Linux 6.4 (map_mem_usage) it is what the map uses now; for a BPF_F_NO_PREALLOC hash
// that grows with its entries, where older kernels print the preallocated worst case.
using System.Globalization;

namespace Microseg.Bpf;

public static class MapMemory
{
    /// <summary>The kernel's memlock figure for <paramref name="map"/> in bytes, from the
    /// fdinfo of its fd; null when the kernel does not print one.</summary>
    public static long? Memlock(BpfMap map)
    {
        using var fd = map.Handle.Use();
        return ParseMemlock(File.ReadAllText($"/proc/self/fdinfo/{fd.Value.ToString(CultureInfo.InvariantCulture)}"));
    }

    /// <summary>The "memlock:" value of an fdinfo text (tab-separated "key:\tvalue" lines).</summary>
    public static long? ParseMemlock(string fdinfo)
    {
        foreach (var line in fdinfo.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).SequenceEqual("memlock") &&
                long.TryParse(line.AsSpan(colon + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
                return bytes;
        }
        return null;
    }
}
