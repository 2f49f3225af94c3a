// Reading only what one (source, destination) pair needs from microseg.cfg: every line is
// scanned for its section structure (headers, the parents of groups, the src and dst of
// rules), but only the groups on the two ancestor chains and the rules between them are parsed
// and checked. What explain answers with needs no more, and a 100,000-rule file is not built
// into objects for it. A file whose structure cannot be read falls back to the full parser,
// which reports every problem with its line.
using System.Text;

namespace Microseg.Policy;

public static partial class SectionConfig
{
    /// <summary>The groups on the ancestor chains of <paramref name="src"/> (null: untagged)
    /// and <paramref name="dst"/>, and the rules whose src is on the first (absent for
    /// untagged) and whose dst is on the second, parsed with the same checks and file:line
    /// messages as <see cref="Parse(byte[], string)"/>. Other objects are not parsed; a group
    /// that does not exist is simply absent from the result.</summary>
    public static PolicyConfig ParsePair(byte[] bytes, string file, string? src, string dst)
    {
        var span = bytes.AsSpan();
        if (span.StartsWith("\uFEFF"u8)) span = span[3..];
        string text;
        try { text = StrictUtf8.GetString(span); }
        catch (DecoderFallbackException) { return Parse(bytes, file); } // reported with its line
        return Scan(text) is { } scan ? new Parser(file).RunSections(text, scan.Select(src, dst)) : Parse(text, file);
    }

    /// <summary>Where each section starts, the parent of each group and the src and dst of
    /// each rule; null when the structure is broken (an unknown section type, a header
    /// without an id, a property outside a section, a group defined twice).</summary>
    private static PairIndex? Scan(string text)
    {
        var scan = new PairIndex();
        ObjectType? type = null;
        string? id = null;
        int sectionStart = 0, sectionLine = 0;
        string? parent = null, ruleSrc = null, ruleDst = null;
        bool ok = true;

        void Close()
        {
            if (type == ObjectType.Group)
            {
                if (!scan.Groups.TryAdd(id!, (sectionStart, sectionLine, parent))) ok = false;
            }
            else if (type == ObjectType.Rule) scan.Rules.Add((sectionStart, sectionLine, ruleSrc, ruleDst));
            type = null;
            parent = ruleSrc = ruleDst = null;
        }

        int lineNo = 0, start = 0;
        while (ok && start <= text.Length)
        {
            int end = text.IndexOf('\n', start);
            if (end < 0) end = text.Length;
            lineNo++;
            var line = text.AsSpan(start, end - start);
            var trimmed = line.Trim();
            if (trimmed.IsEmpty) Close();
            else if (trimmed[0] == '#') { }
            else if (!char.IsWhiteSpace(line[0]))
            {
                Close();
                var header = line.TrimEnd();
                int colon = header.IndexOf(':');
                if (colon <= 0 || !ObjectTypes.TryParse(header[..colon].ToString(), out var t)) { ok = false; break; }
                var name = header[(colon + 1)..].Trim();
                if (name.IsEmpty) { ok = false; break; }
                (type, id, sectionStart, sectionLine) = (t, name.ToString(), start, lineNo);
            }
            else if (type is null) { ok = false; break; }
            else if (type is ObjectType.Group or ObjectType.Rule)
            {
                int space = trimmed.IndexOfAny(' ', '\t');
                if (space > 0)
                {
                    var key = trimmed[..space];
                    var value = trimmed[(space + 1)..].Trim();
                    if (type == ObjectType.Group && key.SequenceEqual("parent")) parent = value.ToString();
                    else if (type == ObjectType.Rule && key.SequenceEqual("src")) ruleSrc = value.ToString();
                    else if (type == ObjectType.Rule && key.SequenceEqual("dst")) ruleDst = value.ToString();
                }
            }
            if (end == text.Length) break;
            start = end + 1;
        }
        Close();
        return ok ? scan : null;
    }

    private sealed partial class Parser
    {
        /// <summary>Parses the sections that start at the given offsets (with their line
        /// numbers), each up to its end, as <see cref="Run"/> parses a whole file.</summary>
        public PolicyConfig RunSections(string text, List<(int Start, int Line)> sections)
        {
            foreach (var (sectionStart, sectionLine) in sections)
            {
                int lineNo = sectionLine, start = sectionStart;
                while (start <= text.Length)
                {
                    int end = text.IndexOf('\n', start);
                    if (end < 0) end = text.Length;
                    var line = text.AsSpan(start, end - start);
                    if (line.EndsWith("\r")) line = line[..^1];
                    // The section ends at a blank line or at the next header.
                    if (line.Trim().IsEmpty || (lineNo > sectionLine && !char.IsWhiteSpace(line[0]) && line[0] != '#')) break;
                    Line(line, lineNo);
                    if (end == text.Length) break;
                    start = end + 1;
                    lineNo++;
                }
                Close();
                skippingBrokenSection = false;
            }
            if (problems.Count > 0) throw new ConfigException(problems);
            return PolicyConfig.Create(
                objects.OfType<Group>(), objects.OfType<Rule>(), objects.OfType<Assignment>(),
                objects.OfType<Bridge>(), objects.OfType<Forwarder>())
                .WithSource(new SourceInfo(file, lines));
        }
    }
}
