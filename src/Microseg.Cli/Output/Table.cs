// Human output: left-aligned columns, a header row, two spaces between columns.
namespace Microseg.Cli.Output;

public sealed class Table(params string[] headers)
{
    private readonly List<string[]> rows = [];

    public Table Row(params string?[] cells)
    {
        rows.Add([.. cells.Select(c => c ?? "-")]);
        return this;
    }

    public int Count => rows.Count;

    public void WriteTo(TextWriter w)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        void Line(string[] cells) =>
            w.WriteLine(string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd());
        Line(headers);
        foreach (var r in rows) Line(r);
    }
}
