// A directory that exists for one test and is removed with everything in it.
namespace Microseg.TestSupport;

public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "microseg-test-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }
}
