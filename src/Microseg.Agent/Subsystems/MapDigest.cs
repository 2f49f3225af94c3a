// A map's whole content as two 64-bit sums and a count: the XXH64 of each entry's key and value
// bytes under two seeds, added up, so the order the kernel returns entries in does not matter.
// A full apply records the digest of what it wants in a map; a later apply that finds the same
// digest in the kernel knows the map holds exactly that without planning it again.
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Microseg.Agent.Subsystems;

public readonly record struct MapDigest(ulong A, ulong B, int Count)
{
    public static MapDigest Of<TKey, TValue>(IEnumerable<KeyValuePair<TKey, TValue>> entries)
        where TKey : unmanaged
        where TValue : unmanaged
    {
        ulong a = 0, b = 0;
        int count = 0;
        Span<byte> entry = stackalloc byte[MaxEntryBytes];
        foreach (var (k, v) in entries)
        {
            var key = MemoryMarshal.AsBytes(new ReadOnlySpan<TKey>(in k));
            var value = MemoryMarshal.AsBytes(new ReadOnlySpan<TValue>(in v));
            var bytes = key.Length + value.Length <= entry.Length ? entry[..(key.Length + value.Length)] : new byte[key.Length + value.Length];
            key.CopyTo(bytes);
            value.CopyTo(bytes[key.Length..]);
            unchecked
            {
                a += XxHash64.HashToUInt64(bytes, 0);
                b += XxHash64.HashToUInt64(bytes, 0x6d6963726f736567); // "microseg"
            }
            count++;
        }
        return new MapDigest(a, b, count);
    }

    private const int MaxEntryBytes = 256;
}
