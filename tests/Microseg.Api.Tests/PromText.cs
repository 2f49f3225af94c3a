// Prometheus' text format as a scraper reads it: each sample's name, labels and value, and
// Debian's promtool as the judge of the whole document.
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Microseg.Api.Tests;

public sealed record PromSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

public static partial class PromText
{
    public const string Promtool = "/usr/bin/promtool";

    public static IReadOnlyList<PromSample> Parse(string text)
    {
        var samples = new List<PromSample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var m = Sample().Match(line);
            Assert.True(m.Success, $"not a sample line: {line}");
            var labels = new Dictionary<string, string>();
            foreach (Match l in Label().Matches(m.Groups["labels"].Value))
                labels[l.Groups["k"].Value] = l.Groups["v"].Value.Replace("\\\"", "\"").Replace("\\\\", "\\");
            samples.Add(new PromSample(m.Groups["name"].Value, labels, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
        return samples;
    }

    /// <summary>The value of the one sample named <paramref name="name"/> whose labels include
    /// <paramref name="labels"/> (k=v pairs); null when there is none.</summary>
    public static double? Value(this IReadOnlyList<PromSample> samples, string name, params (string Key, string Value)[] labels)
    {
        var hits = samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).ToList();
        Assert.True(hits.Count <= 1, $"{hits.Count} samples of {name} match {string.Join(",", labels)}");
        return hits.Count == 1 ? hits[0].Value : null;
    }

    /// <summary>`promtool check metrics` on the document: its exit code and what it said.</summary>
    public static (int Exit, string Output) Check(string text)
    {
        Assert.True(File.Exists(Promtool), $"{Promtool} is missing: run scripts/install-deps.sh (Debian's prometheus package has it)");
        var psi = new ProcessStartInfo(Promtool) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("metrics");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(text);
        p.StandardInput.Close();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    public static void AssertValid(string text)
    {
        var (exit, output) = Check(text);
        Assert.True(exit == 0 && output.Trim().Length == 0, $"promtool check metrics: exit {exit}: {output}\n---\n{text}");
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)( \d+)?$")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<k>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<v>(\\.|[^""\\])*)""")]
    private static partial Regex Label();
}
