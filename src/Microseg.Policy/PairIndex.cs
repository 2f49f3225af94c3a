// What a one-pair read needs to know of every object before it parses any: where each group
// and rule is, each group's parent, each rule's src and dst. Filled by a scan of the pending
// file or of the snapshot; selects the objects that decide one (source, destination) pair.
namespace Microseg.Policy;

internal sealed class PairIndex
{
    // Start is where a group's or rule's text starts; Line is the line of its section in the
    // pending file, or the length of its bytes in the snapshot.

    /// <summary>Group name → where its section or object starts (offset, line) and its parent.</summary>
    public readonly Dictionary<string, (int Start, int Line, string? Parent)> Groups = new(StringComparer.Ordinal);

    /// <summary>Each rule: where it starts, its src and dst as written (null: absent).</summary>
    public readonly List<(int Start, int Line, string? Src, string? Dst)> Rules = [];

    /// <summary>Where the objects to parse start: both chains' groups, then the rules whose dst
    /// is on the destination's chain and whose src is on the source's (absent for untagged),
    /// in file order.</summary>
    public List<(int Start, int Line)> Select(string? src, string dst)
    {
        var dstChain = Chain(dst);
        var srcChain = src is null ? null : Chain(src);
        var sections = new List<(int Start, int Line)>();
        foreach (var g in dstChain.Concat(srcChain ?? []).Distinct(StringComparer.Ordinal))
            sections.Add((Groups[g].Start, Groups[g].Line));
        foreach (var r in Rules)
        {
            if (r.Dst is null || !dstChain.Contains(r.Dst)) continue;
            if (srcChain is null ? r.Src is null : r.Src is not null && srcChain.Contains(r.Src)) sections.Add((r.Start, r.Line));
        }
        sections.Sort();
        return sections;
    }

    /// <summary>The group and the ancestors that exist (a cycle stops at its first repeat:
    /// validation of what is read names it).</summary>
    private HashSet<string> Chain(string group)
    {
        var chain = new HashSet<string>(StringComparer.Ordinal);
        for (string? g = group; g is not null && Groups.TryGetValue(g, out var entry) && chain.Add(g); g = entry.Parent) { }
        return chain;
    }
}
