// The lab reports' tables: columns padded to their widest cell, two blanks apart.
using System.Text;

namespace Microseg.Lab;

internal static class TextTable
{
    public static void Write(StringBuilder sb, IReadOnlyList<IReadOnlyList<string>> lines, string indent = "")
    {
        var widths = Enumerable.Range(0, lines[0].Count).Select(i => lines.Max(l => l[i].Length)).ToList();
        foreach (var l in lines)
            sb.AppendLine(indent + string.Join("  ", l.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
    }
}
