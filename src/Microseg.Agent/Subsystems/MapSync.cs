// Diff-only map synchronisation: compute what to write and what to delete so that a map holds
// exactly the desired entries, touching nothing that is already right.
namespace Microseg.Agent.Subsystems;

public sealed record MapChanges<TKey, TValue>(
    IReadOnlyList<KeyValuePair<TKey, TValue>> Writes,
    IReadOnlyList<TKey> Deletes)
    where TKey : notnull
{
    public bool IsEmpty => Writes.Count == 0 && Deletes.Count == 0;
}

public static class MapSync
{
    /// <summary>Writes: desired entries missing or different in the map. Deletes: map keys not
    /// desired (only when <paramref name="deleteStale"/>: the plug path adds, never removes).</summary>
    public static MapChanges<TKey, TValue> Diff<TKey, TValue>(
        IReadOnlyDictionary<TKey, TValue> desired,
        IEnumerable<KeyValuePair<TKey, TValue>> current,
        bool deleteStale = true)
        where TKey : notnull
    {
        var currentMap = new Dictionary<TKey, TValue>();
        foreach (var (k, v) in current) currentMap[k] = v;
        var comparer = EqualityComparer<TValue>.Default;
        var writes = desired.Where(d => !currentMap.TryGetValue(d.Key, out var have) || !comparer.Equals(have, d.Value)).ToList();
        var deletes = deleteStale ? currentMap.Keys.Where(k => !desired.ContainsKey(k)).ToList() : [];
        return new MapChanges<TKey, TValue>(writes, deletes);
    }
}
