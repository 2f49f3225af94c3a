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

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Makefile"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
