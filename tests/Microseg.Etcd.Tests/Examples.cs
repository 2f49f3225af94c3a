using Microseg.Lab;
using Microseg.Policy;

namespace Microseg.Etcd.Tests;

internal static class Examples
{
    public static byte[] WorkedExampleBytes => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "examples", "microseg.cfg"));

    public static PolicyConfig WorkedExample => SectionConfig.Parse(WorkedExampleBytes, "microseg.cfg");
}

/// <summary>One etcd member for a test class; each test uses a prefix of its own.</summary>
public sealed class SharedEtcd : IDisposable
{
    private readonly Lazy<LabEtcd> cluster = new(() => new LabEtcd(1));

    public LabEtcd Cluster => cluster.Value;

    public void Dispose()
    {
        if (cluster.IsValueCreated) cluster.Value.Dispose();
    }
}
