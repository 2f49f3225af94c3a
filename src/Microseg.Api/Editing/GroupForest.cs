// The group hierarchy as the matrix filter walks it: each group's children, so that "this group
// and everything below it" costs the size of that subtree, not a scan of every group.
using Microseg.Policy;

namespace Microseg.Api.Editing;

public sealed class GroupForest
{
    private readonly string[] names;              // ordinal order, as the engine's
    private readonly Dictionary<string, int> index;
    private readonly List<int>[] children;

    /// <summary>The forest of a validated config (known parents, no cycles).</summary>
    public GroupForest(PolicyConfig config)
    {
        names = [.. config.Groups.Keys];
        index = new Dictionary<string, int>(names.Length, StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++) index[names[i]] = i;
        children = new List<int>[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            if (config.Groups[names[i]].Parent is { } p && index.TryGetValue(p, out var parent))
                (children[parent] ??= []).Add(i);
        }
    }

    /// <summary>Every group, in ordinal order.</summary>
    public IReadOnlyList<string> All => names;

    public bool Has(string name) => index.ContainsKey(name);

    /// <summary>The group and its descendants, in ordinal order (as the whole matrix lists them).</summary>
    public IReadOnlyList<string> Subtree(string root)
    {
        var found = new List<int>();
        var seen = new HashSet<int>();
        var stack = new Stack<int>();
        stack.Push(index[root]);
        while (stack.Count > 0)
        {
            var g = stack.Pop();
            if (!seen.Add(g)) continue; // a parent cycle would be refused by validation first
            found.Add(g);
            if (children[g] is { } kids) foreach (var k in kids) stack.Push(k);
        }
        found.Sort();
        return found.ConvertAll(i => names[i]);
    }
}
