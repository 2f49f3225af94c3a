// The built `microseg` (out/microseg, from `make build`) as a process: files it creates are 0640
// at most whatever the umask, a rewrite keeps the mode and owner of the file it replaces, and
// the directory is fsynced after the rename that puts a new version in place.
using System.Diagnostics;
using Microseg.TestSupport;

namespace Microseg.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ConfigFileDurabilityTests : IDisposable
{
    private const UnixFileMode Mode0640 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
    private const UnixFileMode Mode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly ConfigDir dir = new();

    public void Dispose() => dir.Dispose();

    private static (int Exit, string Out, string Err) Sh(string script)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        psi.Environment["MICROSEG"] = RepoPaths.MicrosegBinary;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private string Microseg(string args) => $"\"$MICROSEG\" {args} --config-dir '{dir.Path}'";

    [Fact]
    public void Under_umask_000_new_config_files_are_0640()
    {
        var r = Sh($"umask 000; {Microseg("group add web")} && {Microseg("commit")}");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal(Mode0640, File.GetUnixFileMode(dir.PendingPath));
        Assert.Equal(Mode0640, File.GetUnixFileMode(dir.RunningPath));
    }

    [Fact]
    public void An_edit_keeps_the_mode_and_owner_of_the_file()
    {
        dir.WithPending("group: web\n\tmark 10\n");
        File.SetUnixFileMode(dir.PendingPath, Mode0600);
        var root = Environment.UserName == "root";
        if (root) Assert.Equal(0, Sh($"chown nobody:nogroup '{dir.PendingPath}'").Exit);
        var owner = Sh($"stat -c %u:%g '{dir.PendingPath}'").Out.Trim();

        var r = Sh($"umask 000; {Microseg("group add db")}");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("db", dir.PendingText);
        Assert.Equal(Mode0600, File.GetUnixFileMode(dir.PendingPath));
        Assert.Equal(owner, Sh($"stat -c %u:%g '{dir.PendingPath}'").Out.Trim());
        if (root) Assert.Equal("65534:65534", owner);
    }

    [Fact]
    public void The_directory_is_fsynced_after_the_rename()
    {
        dir.WithPending("group: web\n\tmark 10\n");
        var trace = Path.Combine(dir.Path, "..", Path.GetFileName(dir.Path) + ".strace");
        try
        {
            var r = Sh($"strace -f -y -e trace=rename,renameat,renameat2,fsync,fdatasync -o '{trace}' {Microseg("group add db")}");
            Assert.True(r.Exit == 0, r.ToString());
            var lines = File.ReadAllLines(trace);
            var rename = Array.FindIndex(lines, l => l.Contains("rename") && l.Contains(DirectoryConfigStoreNames.Pending) && !l.Contains("= -"));
            Assert.True(rename >= 0, string.Join('\n', lines));
            Assert.Contains(lines.Skip(rename + 1), l => l.Contains("fsync(") && l.Contains($"<{dir.Path}>") && l.TrimEnd().EndsWith("= 0"));
        }
        finally
        {
            File.Delete(trace);
        }
    }

    private static class DirectoryConfigStoreNames
    {
        public const string Pending = global::Microseg.Policy.DirectoryConfigStore.PendingFileName;
    }
}
