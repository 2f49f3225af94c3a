// The config directory: commit (version, no-op commits, nothing written when invalid, marks
// assigned and written back) and digest-guarded edits of microseg.cfg, also from many threads.
using System.Text;
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Policy.Tests;

public sealed class DirectoryConfigStoreTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly DirectoryConfigStore store;

    public DirectoryConfigStoreTests() => store = new DirectoryConfigStore(dir.Path);

    public void Dispose() => dir.Dispose();

    private void WritePending(string text) => File.WriteAllText(store.PendingPath, text);

    private byte[] Pending => File.ReadAllBytes(store.PendingPath);

    private byte[] Running => File.ReadAllBytes(store.RunningPath);

    private string[] LeftoverFiles =>
        [.. Directory.GetFiles(dir.Path).Select(Path.GetFileName).Where(n => n is not (DirectoryConfigStore.PendingFileName or DirectoryConfigStore.RunningFileName or ".microseg.cfg.lock"))!];

    [Fact]
    public void Commit_writes_the_snapshot_of_the_pending_config_as_version_1()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        var result = store.Commit();
        Assert.True(result.Changed);
        Assert.Equal(1, result.Snapshot.Version);
        var running = SnapshotFormat.Read(Running, store.RunningPath);
        Assert.Equal(1, running.Version);
        ModelAssert.SameObjects(Examples.WorkedExample, running.Config);
        Assert.Equal(1, store.ReadRunning()!.Version);
        Assert.Empty(LeftoverFiles);
    }

    [Fact]
    public void Each_commit_of_a_change_increments_the_version()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        store.Commit();
        store.EditPending(c => c.Put(new Group("extra", 99)));
        var second = store.Commit();
        Assert.True(second.Changed);
        Assert.Equal(2, second.Snapshot.Version);
        var running = store.ReadRunning()!;
        Assert.Equal(2, running.Version);
        Assert.Equal(99, running.Config.Groups["extra"].Mark);
        store.EditPending(c => c.Remove(ObjectType.Group, "extra"));
        Assert.Equal(3, store.Commit().Snapshot.Version);
    }

    [Fact]
    public void Commit_counts_on_from_an_existing_snapshot_version()
    {
        File.WriteAllBytes(store.RunningPath, SnapshotFormat.Write(new Snapshot(41, PolicyConfig.Empty)));
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        Assert.Equal(42, store.Commit().Snapshot.Version);
        Assert.Equal(42, store.ReadRunning()!.Version);
    }

    [Fact]
    public void Second_commit_without_a_change_writes_nothing()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        store.Commit();
        var running = Running;
        var pending = Pending;
        var written = File.GetLastWriteTimeUtc(store.RunningPath);

        var again = store.Commit();
        Assert.False(again.Changed);
        Assert.Equal(1, again.Snapshot.Version);
        Assert.Equal(running, Running);
        Assert.Equal(pending, Pending);
        Assert.Equal(written, File.GetLastWriteTimeUtc(store.RunningPath));
    }

    [Fact]
    public void Commit_of_an_invalid_config_writes_neither_file()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        store.Commit();
        // Invalid (unknown dst) and with a group lacking a mark: a commit that wrote marks back
        // before validating would change the pending file.
        WritePending(Encoding.UTF8.GetString(Examples.WorkedExampleBytes) + "\ngroup: nomark\n\nrule: p0-20\n\tdst ghost\n\taction allow\n");
        var pending = Pending;
        var running = Running;

        var e = Assert.Throws<ConfigException>(() => store.Commit());
        Assert.Contains("ghost", e.Message);
        Assert.Contains($"{store.PendingPath}:", e.Message);
        Assert.Equal(pending, Pending);
        Assert.Equal(running, Running);
        Assert.Empty(LeftoverFiles);
    }

    [Fact]
    public void Commit_of_an_unparsable_file_writes_nothing()
    {
        WritePending("group: a\n\tmark 1\n\tcolour red\n");
        var pending = Pending;
        var e = Assert.Throws<ConfigException>(() => store.Commit());
        Assert.Contains($"{store.PendingPath}:3", e.Message);
        Assert.Equal(pending, Pending);
        Assert.False(File.Exists(store.RunningPath));
    }

    [Fact]
    public void Commit_assigns_the_lowest_free_marks_and_writes_them_back()
    {
        WritePending("# hand-written\ngroup: a\n\tmark 1\n\ngroup: b\n\tcomment no mark yet\n\n" +
                     "group: c\n\tmark 3\n\ngroup: d\n\tparent c\n\ngroup: e\n\n# the end\n");
        var result = store.Commit();

        Assert.Equal([("b", 2), ("d", 4), ("e", 5)], result.MarksAssigned.Select(g => (g.Name, g.Mark!.Value)));
        var pending = store.ReadPending();
        Assert.Equal(pending.Digest, result.PendingDigest);
        Assert.Equal([1, 2, 3, 4, 5], pending.Config.Groups.Values.Select(g => g.Mark!.Value));
        Assert.Equal("no mark yet", pending.Config.Groups["b"].Comment);
        var text = Encoding.UTF8.GetString(Pending);
        Assert.StartsWith("# hand-written\ngroup: a\n", text);
        Assert.EndsWith("# the end\n", text);
        Assert.Equal([1, 2, 3, 4, 5], store.ReadRunning()!.Config.Groups.Values.Select(g => g.Mark!.Value));

        // The marks are now in the file: committing again assigns none and changes nothing.
        var again = store.Commit();
        Assert.Empty(again.MarksAssigned);
        Assert.False(again.Changed);
    }

    [Fact]
    public void Assigned_marks_skip_marks_already_taken_anywhere()
    {
        var (config, assigned) = Marks.AssignMissing(PolicyConfig.Create(
            [new Group("z", 2), new Group("a"), new Group("m", 1), new Group("b"), new Group("y", 4)]));
        Assert.Equal([("a", 3), ("b", 5)], assigned.Select(g => (g.Name, g.Mark!.Value)));
        Assert.Equal(3, config.Groups["a"].Mark);
        Assert.Equal(6, Marks.NextFree(config));
    }

    [Fact]
    public void Edit_with_the_current_digest_succeeds_and_returns_the_new_digest()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        var before = store.ReadPending();
        Assert.Equal(DirectoryConfigStore.DigestOf(Examples.WorkedExampleBytes), before.Digest);
        var digest = store.EditPending(c => c.Put(new Group("new", 30)), before.Digest);
        Assert.Equal(DirectoryConfigStore.DigestOf(Pending), digest);
        Assert.Equal(30, store.ReadPending().Config.Groups["new"].Mark);
        // Comments of the file survive an edit.
        Assert.StartsWith("# The worked example", Encoding.UTF8.GetString(Pending));
    }

    [Fact]
    public void Edit_with_a_stale_digest_is_refused_and_the_file_is_unchanged()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        var stale = store.ReadPending().Digest;
        store.EditPending(c => c.Put(new Group("first", 30)), stale);
        var after = Pending;

        var e = Assert.Throws<DigestConflictException>(() => store.EditPending(c => c.Put(new Group("second", 31)), stale));
        Assert.Equal(stale, e.Expected);
        Assert.Equal(DirectoryConfigStore.DigestOf(after), e.Actual);
        Assert.Contains(store.PendingPath, e.Message);
        Assert.Equal(after, Pending);
        Assert.False(store.ReadPending().Config.Groups.ContainsKey("second"));
    }

    [Fact]
    public void Missing_pending_file_is_an_empty_config_with_the_digest_of_no_bytes()
    {
        var pending = store.ReadPending();
        Assert.Equal(0, pending.Config.Count);
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", pending.Digest);
        Assert.Null(store.ReadRunning());
        // An edit based on "no file yet" works, one based on a made-up digest does not.
        Assert.Throws<DigestConflictException>(() => store.EditPending(c => c.Put(new Group("a", 1)), new string('0', 64)));
        Assert.False(File.Exists(store.PendingPath));
        store.EditPending(c => c.Put(new Group("a", 1)), pending.Digest);
        Assert.Equal("group: a\n\tmark 1\n", Encoding.UTF8.GetString(Pending));
    }

    [Fact]
    public void Edit_that_changes_nothing_leaves_the_file_alone()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        var written = File.GetLastWriteTimeUtc(store.PendingPath);
        var digest = store.EditPending(c => c);
        Assert.Equal(DirectoryConfigStore.DigestOf(Examples.WorkedExampleBytes), digest);
        Assert.Equal(written, File.GetLastWriteTimeUtc(store.PendingPath));
    }

    [Fact]
    public void Failing_edit_leaves_the_file_unchanged()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        Assert.Throws<InvalidOperationException>(() => store.EditPending(_ => throw new InvalidOperationException("no")));
        Assert.Equal(Examples.WorkedExampleBytes, Pending);
        Assert.Empty(LeftoverFiles);
    }

    [Fact]
    public void Concurrent_edits_from_many_threads_lose_no_update()
    {
        const int threads = 8, editsEach = 12;
        using var start = new Barrier(threads);
        var errors = new List<Exception>();
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                for (int k = 0; k < editsEach; k++)
                {
                    var name = $"t{t}e{k}";
                    // Each edit reads the file as it is under the lock, so nothing is lost.
                    store.EditPending(c => c.Put(new Group(name, 1 + t * editsEach + k)));
                }
            }
            catch (Exception e) { lock (errors) errors.Add(e); }
        })).ToList();
        workers.ForEach(w => w.Start());
        Assert.All(workers, w => Assert.True(w.Join(TimeSpan.FromSeconds(120)), "a worker did not finish"));
        Assert.Empty(errors);

        var groups = store.ReadPending().Config.Groups;
        Assert.Equal(threads * editsEach, groups.Count);
        for (int t = 0; t < threads; t++)
            for (int k = 0; k < editsEach; k++)
                Assert.True(groups.ContainsKey($"t{t}e{k}"), $"group t{t}e{k} was lost");
        Assert.Empty(LeftoverFiles);
    }

    [Fact]
    public void Running_config_path_can_be_a_proxmox_sdn_file()
    {
        var sdnPath = dir.File(".running-config");
        var inner = Encoding.UTF8.GetString(SnapshotFormat.Write(new Snapshot(5, Examples.WorkedExample)));
        File.WriteAllText(sdnPath, $"{{\"version\": 99, \"zones\": {{\"ids\": {{}}}}, \"microseg\": {inner}}}");
        var running = new DirectoryConfigStore(dir.Path, sdnPath).ReadRunning()!;
        Assert.Equal(5, running.Version);
        ModelAssert.SameObjects(Examples.WorkedExample, running.Config);
    }

    [Fact]
    public void Damaged_snapshot_is_reported_naming_its_file()
    {
        File.WriteAllText(store.RunningPath, "{\"version\": 3, \"ids\": {");
        var e = Assert.Throws<ConfigException>(() => store.ReadRunning());
        Assert.Contains(store.RunningPath, e.Message);
    }

    [Fact]
    public async Task Watching_the_snapshot_reports_it_now_and_after_each_commit_by_file_notice()
    {
        // A poll interval longer than the test: only inotify can report the change in time.
        var watched = new DirectoryConfigStore(dir.Path) { WatchPollInterval = TimeSpan.FromMinutes(10) };
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var changes = watched.WatchRunning(cancel.Token).GetAsyncEnumerator(cancel.Token);

        Assert.True(await changes.MoveNextAsync());
        Assert.Null(changes.Current.Snapshot);
        Assert.Null(changes.Current.Problem);

        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        var next = changes.MoveNextAsync().AsTask();
        store.Commit();
        Assert.Same(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.True(await next);
        Assert.Equal(1, changes.Current.Snapshot!.Version);
        ModelAssert.SameObjects(Examples.WorkedExample, changes.Current.Snapshot.Config);

        // A damaged snapshot is reported as a problem, naming the file; the repair as a snapshot.
        var damaged = changes.MoveNextAsync().AsTask();
        File.WriteAllText(store.RunningPath, "{\"version\": 3, \"ids\": {");
        Assert.True(await damaged);
        Assert.Null(changes.Current.Snapshot);
        Assert.Contains(store.RunningPath, changes.Current.Problem!.Message);

        var repaired = changes.MoveNextAsync().AsTask();
        store.EditPending(c => c.Put(new Group("extra", 99)));
        store.Commit();
        Assert.True(await repaired);
        // The damaged write may raise a second notice (write, then close) that reports the same
        // problem again before the repair lands: wait for the snapshot (the token bounds it).
        while (changes.Current.Snapshot is null) Assert.True(await changes.MoveNextAsync());
        Assert.Equal(99, changes.Current.Snapshot!.Config.Groups["extra"].Mark);
    }

    [Fact]
    public async Task Watching_polls_where_no_notice_comes()
    {
        // The snapshot's directory does not exist yet: nothing to put a watch on.
        var running = Path.Combine(dir.Path, "later", DirectoryConfigStore.RunningFileName);
        var watched = new DirectoryConfigStore(dir.Path, running) { WatchPollInterval = TimeSpan.FromMilliseconds(50) };
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var changes = watched.WatchRunning(cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.True(await changes.MoveNextAsync());
        Assert.Null(changes.Current.Snapshot);

        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        watched.Commit();
        Assert.True(await changes.MoveNextAsync());
        Assert.Equal(1, changes.Current.Snapshot!.Version);
    }

    [Fact]
    public void Unchanged_files_are_read_as_the_same_instances()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        store.Commit();
        Assert.Same(store.ReadPending(), store.ReadPending());
        Assert.Same(store.ReadRunning(), store.ReadRunning());
        var before = store.ReadPending();
        store.EditPending(c => c.Put(new Group("extra", 99)));
        Assert.NotSame(before.Config, store.ReadPending().Config);
    }

    [Fact]
    public void Token_records_round_trip_in_a_file_only_the_owner_reads()
    {
        var salt = new byte[] { 1, 2, 3 };
        var hash = new byte[] { 4, 5, 6 };
        var created = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Assert.Empty(store.ReadTokens());
        store.EditTokens(t => [.. t, new StoredToken("root@pam!ui", new ValueList<string>(["SDN.Audit"]), created, "web UI", salt, hash)]);
        var read = Assert.Single(store.ReadTokens());
        Assert.Equal(("root@pam!ui", "SDN.Audit", created, "web UI"), (read.Id, read.Privileges.Single(), read.Created, read.Comment));
        Assert.Equal(salt, read.Salt);
        Assert.Equal(hash, read.Sha256);
        Assert.Equal("600", Convert.ToString((int)new FileInfo(store.TokensPath).UnixFileMode, 8));

        var written = File.ReadAllBytes(store.TokensPath);
        store.EditTokens(_ => null);
        Assert.Equal(written, File.ReadAllBytes(store.TokensPath));

        File.WriteAllText(store.TokensPath, "{\"tokens\": [{}]}");
        var e = Assert.Throws<ConfigException>(() => store.ReadTokens());
        Assert.StartsWith($"{store.TokensPath}: unreadable token file: ", e.Message);
    }
}
