// The etcd store against a real etcd member: the same contract as the config directory
// (versions, no-op commits, nothing written when invalid, marks written back, digest-guarded
// edits from many editors), with etcd revisions as digests, a version history, the watch, the
// tokens and the node records.
using System.Text;
using Microseg.Agent.Resident;
using Microseg.Policy;

namespace Microseg.Etcd.Tests;

public sealed class EtcdConfigStoreTests(SharedEtcd etcd) : IClassFixture<SharedEtcd>, IDisposable
{
    private readonly string prefix = $"/t{Guid.NewGuid():N}/";
    private readonly List<EtcdConfigStore> stores = [];

    private EtcdConfigStore NewStore(int history = EtcdStoreOptions.DefaultHistory, int leaseSeconds = 2, int callSeconds = 5)
    {
        var store = etcd.Cluster.Store(prefix);
        store = new EtcdConfigStore(store.Options with { History = history })
            { NodeLeaseTtl = TimeSpan.FromSeconds(leaseSeconds), RetryInterval = TimeSpan.FromMilliseconds(200), CallTimeout = TimeSpan.FromSeconds(callSeconds) };
        stores.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (var s in stores) s.Dispose();
    }

    private string? Key(string name)
    {
        var output = etcd.Cluster.Ctl("get", "--print-value-only", prefix + name);
        return output.Length == 0 ? null : output[..^1];
    }

    private void PutKey(string name, string value) => etcd.Cluster.Ctl("put", prefix + name, value);

    private string ModRevision(string name)
    {
        var json = etcd.Cluster.Ctl("get", "-w", "json", prefix + name);
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.TryGetProperty("kvs", out var kvs) ? kvs[0].GetProperty("mod_revision").GetInt64().ToString() : "0";
    }

    [EtcdFact]
    public void Commit_stores_the_snapshot_under_the_prefix_as_version_1_with_its_history()
    {
        var store = NewStore();
        Assert.False(store.ReadPending().Exists);
        Assert.Equal("0", store.ReadPending().Digest);
        PutKey("pending", Encoding.UTF8.GetString(Examples.WorkedExampleBytes));
        Assert.Equal(ModRevision("pending"), store.ReadPending().Digest);

        var result = store.Commit();
        Assert.True(result.Changed);
        Assert.Equal(1, result.Snapshot.Version);
        var running = SnapshotFormat.Read(Encoding.UTF8.GetBytes(Key("running")!), "running");
        Assert.Equal(1, running.Version);
        Assert.Equal(Examples.WorkedExample.Groups.Keys.Order(), running.Config.Groups.Keys.Order());
        Assert.Equal(Examples.WorkedExample.Rules.Keys.Order(), running.Config.Rules.Keys.Order());
        Assert.Equal(Key("running"), Key("history/0000000001"));
        Assert.Equal(1, store.ReadRunning()!.Version);
        Assert.Equal($"{etcd.Cluster.Url}{prefix}running", store.RunningLocation);
    }

    [EtcdFact]
    public void Each_changed_commit_is_the_next_version_and_the_history_keeps_the_last_n()
    {
        var store = NewStore(history: 3);
        store.EditPending(c => c.Put(new Group("web", 1)));
        for (var i = 0; i < 5; i++)
        {
            var r = store.Commit();
            Assert.Equal(i + 1, r.Snapshot.Version);
            store.EditPending(c => c.Put(new Group($"g{i}", (ushort)(10 + i))));
        }
        Assert.Equal([3L, 4L, 5L], store.ReadHistory().Select(s => s.Version));
        Assert.Equal(5, store.ReadRunning()!.Version);
        Assert.True(store.ReadHistory()[0].Config.Groups.ContainsKey("g0"));
    }

    [EtcdFact]
    public void Commit_without_a_change_writes_nothing()
    {
        var store = NewStore();
        store.EditPending(c => c.Put(new Group("web", 1)));
        store.Commit();
        var before = ModRevision("running");
        var again = store.Commit();
        Assert.False(again.Changed);
        Assert.Equal(1, again.Snapshot.Version);
        Assert.Equal(before, ModRevision("running"));
    }

    [EtcdFact]
    public void Commit_of_an_invalid_or_empty_config_writes_nothing_and_names_the_key()
    {
        var store = NewStore();
        var empty = Assert.Throws<ConfigException>(() => store.Commit());
        Assert.Contains($"{prefix}pending", empty.Message);
        Assert.Contains("--allow-empty", empty.Message);
        PutKey("pending", "group: web\n\tparent nowhere\n");
        var e = Assert.Throws<ConfigException>(() => store.Commit());
        Assert.Contains("nowhere", e.Message);
        Assert.Null(Key("running"));
        PutKey("pending", "group: web\n\tcolour blue\n");
        var parse = Assert.Throws<ConfigException>(() => store.Commit());
        Assert.Contains($"{prefix}pending:2", parse.Message);
        Assert.Null(Key("running"));
    }

    [EtcdFact]
    public void Commit_writes_assigned_marks_back_to_the_pending_config_and_returns_its_new_digest()
    {
        var store = NewStore();
        PutKey("pending", "group: web\n\ngroup: db\n\tmark 1\n");
        var result = store.Commit();
        Assert.Equal("group: db\n\tmark 1\n\ngroup: web\n\tmark 2\n", Key("pending"));
        Assert.Equal(ModRevision("pending"), result.PendingDigest);
        Assert.Equal(result.PendingDigest, store.ReadPending().Digest);
        Assert.Equal(2, result.MarksAssigned.Single().Mark);
    }

    [EtcdFact]
    public void An_edit_with_a_stale_digest_is_refused_and_changes_nothing()
    {
        var store = NewStore();
        var first = store.EditPending(c => c.Put(new Group("web", 1)));
        Assert.Equal(ModRevision("pending"), first);
        var second = store.EditPending(c => c.Put(new Group("db", 2)), first);
        var e = Assert.Throws<DigestConflictException>(() => store.EditPending(c => c.Put(new Group("lost", 3)), first));
        Assert.Equal(first, e.Expected);
        Assert.Equal(second, e.Actual);
        Assert.DoesNotContain("lost", Key("pending"));
        Assert.Throws<DigestConflictException>(() => store.Commit(first));
        Assert.Null(Key("running"));
        Assert.Null(store.DigestProblem(second));
        Assert.NotNull(store.DigestProblem("not-a-revision"));
        Assert.NotNull(store.DigestProblem(new string('a', 64)));
    }

    [EtcdFact]
    public void An_edit_that_changes_nothing_writes_nothing()
    {
        var store = NewStore();
        var digest = store.EditPending(c => c.Put(new Group("web", 1)));
        Assert.Equal(digest, store.EditPending(c => c.Put(new Group("web", 1))));
        Assert.Equal(digest, ModRevision("pending"));
    }

    [EtcdFact]
    public void Two_editors_with_the_same_digest_one_wins_the_other_gets_a_conflict()
    {
        var (a, b) = (NewStore(), NewStore());
        var digest = a.EditPending(c => c.Put(new Group("web", 1)));
        a.EditPending(c => c.Put(new Group("db", 2)), digest);
        var e = Assert.Throws<DigestConflictException>(() => b.EditPending(c => c.Put(new Group("app", 3)), digest));
        Assert.Contains("pending changed since it was read", e.Message);
        var names = b.ReadPending().Config.Groups.Keys.Order().ToList();
        Assert.Equal(["db", "web"], names);
    }

    [EtcdFact]
    public void Concurrent_edits_from_many_editors_lose_no_update()
    {
        // What counts here is that no update is lost, not how fast: eight editors at once on a
        // 2-core machine while etcd syncs to disk have made a call wait past the 5 s default in CI.
        var editors = Enumerable.Range(0, 4).Select(_ => NewStore(callSeconds: 30)).ToList();
        Parallel.For(0, 40, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            editors[i % editors.Count].EditPending(c => c.Put(new Group($"g{i}", (ushort)(i + 1)))));
        Assert.Equal(40, NewStore().ReadPending().Config.Groups.Count);
    }

    [EtcdFact]
    public void Unchanged_keys_are_read_as_the_same_instances()
    {
        var store = NewStore();
        store.EditPending(c => c.Put(new Group("web", 1)));
        store.Commit();
        Assert.Same(store.ReadPending(), store.ReadPending());
        Assert.Same(store.ReadRunning(), store.ReadRunning());
    }

    [EtcdFact]
    public async Task Watching_reports_the_snapshot_now_each_commit_and_a_damaged_one_with_its_key()
    {
        var store = NewStore();
        store.EditPending(c => c.Put(new Group("web", 1)));
        store.Commit();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var watch = store.WatchRunning(cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(1, watch.Current.Snapshot!.Version);

        store.EditPending(c => c.Put(new Group("db", 2)));
        store.Commit();
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(2, watch.Current.Snapshot!.Version);

        PutKey("running", "{\"version\": 3, \"ids\": ");
        Assert.True(await watch.MoveNextAsync());
        Assert.Null(watch.Current.Snapshot);
        Assert.Contains($"{prefix}running", watch.Current.Problem!.Message);

        store.EditPending(c => c.Put(new Group("app", 3)));
        var repaired = store.Commit();
        Assert.Equal(3, repaired.Snapshot.Version);
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(3, watch.Current.Snapshot!.Version);
    }

    [EtcdFact]
    public void Token_records_round_trip_and_concurrent_edits_keep_every_one()
    {
        var store = NewStore();
        Assert.Empty(store.ReadTokens());
        // What counts here is that no update is lost, not how fast: eight editors at once on a
        // 2-core machine while etcd syncs to disk have made a call wait past the 5 s default in CI.
        var editors = Enumerable.Range(0, 4).Select(_ => NewStore(callSeconds: 30)).ToList();
        Parallel.For(0, 10, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => editors[i % 4].EditTokens(list =>
            [.. list, new StoredToken($"root@pam!t{i}", new ValueList<string>(["SDN.Audit"]), DateTimeOffset.UnixEpoch, null, [1, 2], [3, 4])]));
        var tokens = store.ReadTokens();
        Assert.Equal(10, tokens.Count);
        Assert.Same(tokens, store.ReadTokens());
        Assert.Equal([3, 4], tokens[0].Sha256);
    }

    [EtcdFact]
    public async Task A_node_record_is_there_while_its_agent_lives_and_goes_with_its_lease()
    {
        // A lease of 4 s (keep-alives every third of it): a stall of a second on a loaded
        // machine does not let it lapse; a dead agent's record still goes within seconds.
        var store = NewStore(leaseSeconds: 4);
        var sink = store.NodeStatusSink("node1");
        sink.Report(new NodeStatus("node1", 7, 7, null, DateTimeOffset.UtcNow));
        var nodes = await Eventually(() => store.ReadNodes(), n => n.Count == 1);
        Assert.Equal(7, nodes[0].Version);
        Assert.True(nodes[0].Ok);
        sink.Report(new NodeStatus("node1", 7, 8, "the committed snapshot is invalid", DateTimeOffset.UtcNow));
        nodes = await Eventually(() => store.ReadNodes(), n => n.Count == 1 && !n[0].Ok);
        Assert.Equal(8, nodes[0].Seen);
        // Beyond a lease time the keep-alives hold it.
        await Task.Delay(TimeSpan.FromSeconds(5));
        Assert.Single(store.ReadNodes());
        sink.Dispose();
        await Eventually(() => store.ReadNodes(), n => n.Count == 0, TimeSpan.FromSeconds(15));
    }

    [EtcdFact]
    public void Convergence_says_how_many_nodes_enforce_the_committed_version_and_who_lags()
    {
        var now = DateTimeOffset.UtcNow;
        var c = ClusterConvergence.Of(7, [new NodeStatus("b", 6, 7, "invalid", now), new NodeStatus("a", 7, 7, null, now), new NodeStatus("c", 7, 7, null, now)]);
        Assert.Equal("2/3 nodes at version 7", c.Summary);
        Assert.False(c.Converged);
        Assert.Equal(["b"], c.Nodes.Where(n => n.Lagging).Select(n => n.Status.Node));
    }

    internal static async Task<T> Eventually<T>(Func<T> read, Func<T, bool> done, TimeSpan? within = null)
    {
        var until = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var value = read();
            if (done(value)) return value;
            if (DateTime.UtcNow > until) Assert.Fail($"not reached in time; last: {value}");
            await Task.Delay(50);
        }
    }
}
