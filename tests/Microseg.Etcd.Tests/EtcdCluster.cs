// The tests' etcd: LabEtcd's members, a store on them, and the gate that skips an etcd test
// where etcd is not installed (never in CI).
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Etcd.Tests;

public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        if (LabEtcd.Missing is { } why && !KernelProbe.InCi)
            Skip = $"etcd test skipped: {why} (CI=true turns this skip into a failure)";
    }
}

public static class EtcdClusters
{
    /// <summary>A store on the members with short timeouts and lease, as tests want them.</summary>
    public static EtcdConfigStore Store(this LabEtcd etcd, string prefix = EtcdStoreOptions.DefaultPrefix, TimeSpan? callTimeout = null) =>
        new(EtcdStoreOptions.Parse(etcd.Url, _ => null) with { Prefix = prefix })
        {
            CallTimeout = callTimeout ?? TimeSpan.FromSeconds(5),
            RetryInterval = TimeSpan.FromMilliseconds(200),
            NodeLeaseTtl = TimeSpan.FromSeconds(6),
        };
}
