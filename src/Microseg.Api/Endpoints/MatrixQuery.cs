// GET .../matrix with a filter and pages: the sources are one subtree (or untagged traffic, or
// all), the destinations one subtree (or all), and the cells of that rectangle are listed
// source by source and paged with start and limit, as Proxmox's list endpoints page. A page
// resolves only its own cells, so a config of 20,000 groups costs what the page shows, never
// the whole groups² matrix. Without a filter and within the default limit, the answer is the
// whole matrix, exactly as `microseg matrix --json` prints it.
using System.Text.Json;
using Microseg.Api.Editing;
using Microseg.Policy;

namespace Microseg.Api.Endpoints;

internal sealed class MatrixQuery
{
    /// <summary>Cells per page unless asked: a whole matrix of up to 99 groups.</summary>
    public const int DefaultLimit = 10_000;

    /// <summary>The most cells one page may hold.</summary>
    public const int MaxLimit = 100_000;

    public static readonly string[] Parameters = ["src", "dst", "start", "limit"];

    private readonly IReadOnlyList<string?> sources;      // null = untagged
    private readonly IReadOnlyList<string> destinations;

    private MatrixQuery(IReadOnlyList<string?> sources, IReadOnlyList<string> destinations, long start, int limit)
    {
        this.sources = sources;
        this.destinations = destinations;
        Start = start;
        Limit = limit;
    }

    public long Start { get; }
    public int Limit { get; }

    /// <summary>Cells the filter selects, over every page.</summary>
    public long Total => (long)sources.Count * destinations.Count;

    public int SourceCount => sources.Count;
    public int DestinationCount => destinations.Count;

    /// <summary>Reads src, dst, start and limit; their problems go to the request's field errors.</summary>
    public static MatrixQuery Parse(RequestFields fields, GroupForest forest)
    {
        IReadOnlyList<string?> sources = [null, .. forest.All];
        IReadOnlyList<string> destinations = forest.All;
        if (fields.String("src") is { } src)
        {
            if (src == Names.Untagged) sources = [null];
            else if (forest.Has(src)) sources = [.. forest.Subtree(src)];
            else fields.Error("src", Unknown(forest, src, "source", $" (or '{Names.Untagged}')"));
        }
        if (fields.String("dst") is { } dst)
        {
            if (forest.Has(dst)) destinations = forest.Subtree(dst);
            else if (dst == Names.Untagged) fields.Error("dst", $"'{Names.Untagged}' is a source only: untagged traffic has no destination NIC");
            else fields.Error("dst", Unknown(forest, dst, "destination", ""));
        }
        var start = fields.Integer("start") ?? 0;
        if (start < 0) fields.Error("start", $"must be 0 or more (it is {start})");
        var limit = fields.Integer("limit") ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit) fields.Error("limit", $"must be 1 to {MaxLimit} cells (it is {limit})");
        return new MatrixQuery(sources, destinations, Math.Max(start, 0), (int)Math.Clamp(limit, 1, MaxLimit));
    }

    private static string Unknown(GroupForest forest, string name, string role, string also) =>
        $"unknown {role} group '{Text.Clip(name)}'{also} (groups: {string.Join(", ", forest.All.Take(20))}{(forest.All.Count > 20 ? ", …" : "")})";

    /// <summary>{"groups": the destinations the page's cells cover, "matrix": the page's cells},
    /// the shape of `microseg matrix --json`.</summary>
    public void Write(Utf8JsonWriter w, PolicyEngine engine)
    {
        var d = destinations.Count;
        var end = Math.Min(Total, Start + Limit);
        var count = Math.Max(0, end - Start);
        w.WriteStartObject();
        w.WriteStartArray("groups");
        foreach (var column in Columns(count)) w.WriteStringValue(destinations[column]);
        w.WriteEndArray();
        w.WriteStartArray("matrix");
        for (var i = Start; i < end; i++)
            PolicyJson.WriteMatrixCell(w, engine.Explain(sources[(int)(i / d)], destinations[(int)(i % d)]));
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The destination indices <paramref name="count"/> cells from Start cover, in column order.</summary>
    private IEnumerable<int> Columns(long count)
    {
        var d = destinations.Count;
        if (count == 0) return [];
        if (count >= d) return Enumerable.Range(0, d);
        int first = (int)(Start % d), last = (int)((Start + count - 1) % d);
        return first <= last
            ? Enumerable.Range(first, last - first + 1)
            : Enumerable.Range(0, last + 1).Concat(Enumerable.Range(first, d - first));
    }

    /// <summary>Beside "data", as Proxmox's paged lists give it: the cells over every page, and
    /// the rectangle's sides.</summary>
    public void WritePaging(Utf8JsonWriter w)
    {
        w.WriteNumber("total", Total);
        w.WriteNumber("start", Start);
        w.WriteNumber("limit", Limit);
        w.WriteNumber("sources", SourceCount);
        w.WriteNumber("destinations", DestinationCount);
    }
}
