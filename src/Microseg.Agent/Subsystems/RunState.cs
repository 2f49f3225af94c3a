// Small files under /run/microseg/<subsystem>/ that say what is loaded: the program
// fingerprint and the map schema version (written atomically), and whether any tc filter of
// the subsystem may be left.
using System.Globalization;
using Microseg.Policy;

namespace Microseg.Agent.Subsystems;

public sealed class RunState(string directory)
{
    public string Directory { get; } = directory;
    public string LockPath => Path.Combine(Directory, "lock");
    private string FingerprintPath => Path.Combine(Directory, "fingerprint");
    private string SchemaPath => Path.Combine(Directory, "schema");

    /// <summary>Present when none of the subsystem's tc filters is left on any device it owns
    /// (TcFilterStore.NoneRecord): while it is there, nothing asks the kernel. It outlives an
    /// unload (no filter came back with it); clear removes it with the rest.</summary>
    public string NoTcFiltersPath => Path.Combine(Directory, "tc-none");

    public string? Fingerprint => ReadOrNull(FingerprintPath);

    public int? Schema => ReadOrNull(SchemaPath) is { } s && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;

    public void Record(string fingerprint, int schema)
    {
        System.IO.Directory.CreateDirectory(Directory);
        AtomicFile.Write(SchemaPath, System.Text.Encoding.ASCII.GetBytes(schema.ToString(CultureInfo.InvariantCulture) + "\n"));
        AtomicFile.Write(FingerprintPath, System.Text.Encoding.ASCII.GetBytes(fingerprint + "\n"));
    }

    /// <summary>clear: the "no tc filter left" record goes too (the next apply asks again).</summary>
    public void ForgetNoTcFilters()
    {
        try { File.Delete(NoTcFiltersPath); }
        catch (DirectoryNotFoundException) { }
    }

    /// <summary>Removes the state files (the lock file stays while someone may hold it).</summary>
    public void Forget()
    {
        File.Delete(FingerprintPath);
        File.Delete(SchemaPath);
    }

    private static string? ReadOrNull(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }
}
