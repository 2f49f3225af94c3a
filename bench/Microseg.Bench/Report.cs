// Collects a suite's lines, echoes them, and saves them under bench/results/.
using System.Text;

namespace Microseg.Bench;

public sealed class Report(string suite)
{
    private readonly StringBuilder text = new();

    public void Line(string line = "")
    {
        Console.WriteLine(line);
        text.AppendLine(line);
    }

    public void Save()
    {
        var dir = Path.Combine(FindRoot(), "bench", "results");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{suite}.md");
        File.WriteAllText(path, $"# bench: {suite} ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores)\n\n{text}");
        Console.WriteLine($"(saved {path})");
    }

    private static string FindRoot() => Paths.Root;
}
