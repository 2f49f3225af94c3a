// Which config store a command works on: the config directory (the default, --config-dir), or
// etcd with --store etcd://HOST:PORT[,HOST:PORT...] (or MICROSEG_STORE). The one place a store
// is made; every command asks MicrosegRootCommand.Store for it.
using System.CommandLine;
using Microseg.Etcd;
using Microseg.Policy;

namespace Microseg.Cli;

internal static class StoreSelection
{
    public static readonly Option<string?> Option = new("--store")
    {
        Description = "Where the configuration lives: etcd://HOST:PORT[,HOST:PORT...][/PREFIX/] for etcd " +
            "(TLS and user from MICROSEG_ETCD_CACERT, _CERT, _KEY, _USER, _PASSWORD[_FILE]), else the config directory [env MICROSEG_STORE]",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MICROSEG_STORE") is { Length: > 0 } s ? s : null,
    };

    /// <summary>The store <paramref name="store"/> names; without one, the config directory.</summary>
    public static IConfigStore Open(string? store, string configDirectory, string? runningConfig)
    {
        if (store is null || !EtcdStoreOptions.IsEtcd(store))
            return new DirectoryConfigStore(store ?? configDirectory, runningConfig);
        if (runningConfig is not null)
            throw new UserException($"--running-config names a file, and the store is {store}: the committed snapshot is in etcd");
        return new EtcdConfigStore(EtcdStoreOptions.Parse(store, Environment.GetEnvironmentVariable));
    }
}
