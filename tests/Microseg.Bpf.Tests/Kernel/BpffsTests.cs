// bpffs detection, mounting and pin directories.
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class BpffsTests : IDisposable
{
    private readonly TempBpffs bpffs = new();

    public void Dispose() => bpffs.Dispose();

    [KernelFact]
    public void A_mount_is_bpffs_and_a_plain_directory_is_not()
    {
        using var plain = new TempDirectory();

        Assert.True(Bpffs.IsOnBpffs(bpffs.Path));
        Assert.False(Bpffs.IsOnBpffs(plain.Path));
        Assert.False(Bpffs.IsOnBpffs(bpffs.File("missing")));
    }

    [KernelFact]
    public void EnsureMounted_leaves_an_existing_mount_alone()
    {
        Assert.False(Bpffs.EnsureMounted(bpffs.Path));
    }

    [KernelFact]
    public void Pin_directories_are_created_inside_bpffs_only()
    {
        using var plain = new TempDirectory();

        Bpffs.CreateDirectory(bpffs.File("policy", "links"));
        var e = Assert.Throws<BpfException>(() => Bpffs.CreateDirectory(Path.Combine(plain.Path, "policy")));

        Assert.True(Directory.Exists(bpffs.File("policy", "links")));
        Assert.Contains($"{plain.Path} is not on a bpffs mount", e.Message);
        Assert.False(Directory.Exists(Path.Combine(plain.Path, "policy")));
    }

    [KernelFact]
    public void Unmount_refuses_what_is_not_bpffs()
    {
        using var plain = new TempDirectory();

        var e = Assert.Throws<BpfException>(() => Bpffs.Unmount(plain.Path));

        Assert.Equal($"unmount {plain.Path}: it is not a bpffs mount", e.Message);
    }

    [KernelFact]
    public void Mount_and_unmount_a_nested_bpffs()
    {
        using var plain = new TempDirectory();
        string mountPoint = Path.Combine(plain.Path, "bpf");

        Assert.True(Bpffs.EnsureMounted(mountPoint));
        try
        {
            Assert.True(Bpffs.IsOnBpffs(mountPoint));
        }
        finally
        {
            Bpffs.Unmount(mountPoint);
        }
        Assert.False(Bpffs.IsOnBpffs(mountPoint));
    }
}
