// The store when etcd goes away: calls fail within their deadline with a message naming the
// store, a watch reports the trouble once, keeps trying, and reports the snapshot again when
// etcd is back (so a watcher knows the trouble is over), including a commit made meanwhile.
using Microseg.Lab;
using Microseg.Policy;

namespace Microseg.Etcd.Tests;

public sealed class EtcdOutageTests
{
    [EtcdFact]
    public void Nothing_listening_is_a_config_error_naming_the_store()
    {
        using var store = new EtcdConfigStore(EtcdStoreOptions.Parse("etcd://127.0.0.1:1", _ => null)) { CallTimeout = TimeSpan.FromSeconds(2) };
        var e = Assert.Throws<ConfigException>(() => store.ReadPending());
        Assert.StartsWith("etcd://127.0.0.1:1/microseg/: etcd unreachable", e.Message);
        Assert.Throws<ConfigException>(() => store.Commit());
    }

    [EtcdFact]
    public async Task A_watch_reports_an_outage_once_and_the_newest_snapshot_when_etcd_is_back()
    {
        using var cluster = new LabEtcd(1);
        using var store = cluster.Store();
        store.EditPending(c => c.Put(new Group("web", 1)));
        store.Commit();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var watch = store.WatchRunning(cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(1, watch.Current.Snapshot!.Version);

        cluster.KillAll();
        Assert.True(await watch.MoveNextAsync());
        Assert.Null(watch.Current.Snapshot);
        Assert.Contains("etcd unreachable", watch.Current.Problem!.Message);

        cluster.RestartAll();
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(1, watch.Current.Snapshot!.Version);
        using var editor = cluster.Store();
        editor.EditPending(c => c.Put(new Group("db", 2)));
        editor.Commit();
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(2, watch.Current.Snapshot!.Version);
    }
}
