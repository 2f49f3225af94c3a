// The configuration in etcd, under a key prefix (default /microseg/):
//
//   pending              the pending config, section-config text, exactly as microseg.cfg
//   running              the committed snapshot, JSON, exactly as running-config.json
//   history/0000000007   the last N committed snapshots, by version
//   tokens               the API token records (salted hashes), as api-tokens.json
//   nodes/NODE           each agent's report (NodeStatus), bound to a lease the agent keeps
//
// A digest is the etcd mod revision of the pending key ("0": nothing stored). Every
// read-modify-write is one transaction that compares the revisions it read: a concurrent
// editor makes it fail, and the caller gets DigestConflictException when it named a digest,
// or a retry on fresh data when it did not. Each value is parsed once per revision.
// Calls have a deadline; an unreachable cluster is a ConfigException naming the store, so a
// resident agent keeps what it enforces and says why.
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microseg.Agent.Resident;
using Microseg.Policy;

namespace Microseg.Etcd;

public sealed class EtcdConfigStore : IConfigStore, INodeStatusSource, IDisposable
{
    public const string PendingKey = "pending";
    public const string RunningKey = "running";
    public const string HistoryKey = "history/";
    public const string TokensKey = "tokens";
    public const string NodesKey = "nodes/";

    /// <summary>Read-modify-writes that lose the race try again, after a random pause that
    /// grows with each try, up to this many times.</summary>
    private const int Attempts = 50;

    private sealed record Parsed<T>(long Revision, T Value);

    private readonly EtcdClient client;
    private readonly ByteString pendingKey, runningKey, tokensKey;
    private Parsed<PendingConfig>? pending;
    private Parsed<Snapshot>? running;
    private Parsed<IReadOnlyList<StoredToken>>? tokens;

    public EtcdConfigStore(EtcdStoreOptions options)
    {
        Options = options;
        client = Connect(options);
        pendingKey = Key(PendingKey);
        runningKey = Key(RunningKey);
        tokensKey = Key(TokensKey);
    }

    public EtcdStoreOptions Options { get; }

    /// <summary>How long one call may take before the store counts as unreachable.</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a watch waits before trying an unreachable cluster again (it doubles up to 8×).</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a node's record outlives its agent.</summary>
    public TimeSpan NodeLeaseTtl { get; init; } = TimeSpan.FromSeconds(15);

    public string Description => Options.Description;
    public string PendingLocation => Description + PendingKey;
    public string RunningLocation => Description + RunningKey;
    public string TokensLocation => Description + TokensKey;

    public string? DigestProblem(string digest) =>
        digest.Length is > 0 and <= 19 && digest.All(char.IsAsciiDigit) ? null
        : "must be an etcd revision (a whole number), as read from the pending config";

    // ---- pending ----------------------------------------------------------------------------

    public PendingConfig ReadPending() => ReadPendingAt().Value;

    private Parsed<PendingConfig> ReadPendingAt()
    {
        var (bytes, revision) = Get(pendingKey);
        return PendingAt(bytes, revision);
    }

    private Parsed<PendingConfig> PendingAt(byte[]? bytes, long revision)
    {
        if (Volatile.Read(ref pending) is { } cached && cached.Revision == revision) return cached;
        var value = bytes is null
            ? new PendingConfig(PolicyConfig.Empty, "0", Exists: false)
            : new PendingConfig(SectionConfig.Parse(bytes, PendingLocation), Digest(revision));
        var fresh = new Parsed<PendingConfig>(revision, value);
        Volatile.Write(ref pending, fresh);
        return fresh;
    }

    public string EditPending(Func<PendingConfig, PolicyConfig> edit, string? expectedDigest = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            var read = ReadPendingAt();
            EnsureDigest(expectedDigest, read.Value.Digest);
            var output = SectionConfig.WriteBytes(edit(read.Value));
            if (read.Value.Exists && SectionConfig.WriteBytes(read.Value.Config).AsSpan().SequenceEqual(output)) return read.Value.Digest;
            var txn = new TxnRequest();
            txn.Compare.Add(ModIs(pendingKey, read.Revision));
            txn.Success.Add(Put(pendingKey, output));
            var result = Transaction(txn);
            if (result.Succeeded) return Digest(result.Header.Revision);
            if (attempt == Attempts) throw Busy(PendingLocation);
            Backoff(attempt);
        }
    }

    // ---- commit and the snapshot ------------------------------------------------------------

    public Snapshot? ReadRunning()
    {
        var (bytes, revision) = Get(runningKey);
        return bytes is null ? null : RunningAt(bytes, revision);
    }

    private Snapshot RunningAt(byte[] bytes, long revision)
    {
        if (Volatile.Read(ref running) is { } cached && cached.Revision == revision) return cached.Value;
        var snapshot = SnapshotFormat.Read(bytes, RunningLocation);
        Volatile.Write(ref running, new Parsed<Snapshot>(revision, snapshot));
        return snapshot;
    }

    public CommitResult Commit(string? expectedDigest = null, bool allowEmpty = false)
    {
        for (var attempt = 0; ; attempt++)
        {
            var read = ReadPendingAt();
            EnsureDigest(expectedDigest, read.Value.Digest);
            if (!allowEmpty && read.Value.Config.Count == 0)
                throw new ConfigException(PendingLocation, (read.Value.Exists ? "the pending config is empty" : "does not exist") +
                    ": refusing to commit an empty policy, which would stop enforcing every NIC (commit with --allow-empty if that is what you want)");
            var (config, assigned) = Marks.AssignMissing(read.Value.Config);
            Validation.Ensure(config);

            var (runningBytes, runningRevision) = Get(runningKey);
            Snapshot? previous = null;
            try { previous = runningBytes is null ? null : RunningAt(runningBytes, runningRevision); }
            catch (ConfigException) { /* a damaged snapshot is replaced; the history keeps the versions before it */ }
            var previousVersion = previous?.Version ?? LatestHistoryVersion();
            var candidate = new Snapshot(previousVersion + 1, config);
            var unchanged = previous is not null && SameContent(previous, candidate);
            if (unchanged && assigned.Count == 0) return new CommitResult(previous!, Changed: false, assigned, read.Value.Digest);

            var txn = new TxnRequest();
            txn.Compare.Add(ModIs(pendingKey, read.Revision));
            txn.Compare.Add(ModIs(runningKey, runningRevision));
            if (assigned.Count > 0) txn.Success.Add(Put(pendingKey, SectionConfig.WriteBytes(config)));
            if (!unchanged)
            {
                var json = SnapshotFormat.Write(candidate);
                txn.Success.Add(Put(runningKey, json));
                txn.Success.Add(Put(Key(HistoryKey + HistoryName(candidate.Version)), json));
                var oldest = candidate.Version - Options.History + 1;
                if (oldest > 1)
                    txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = Key(HistoryKey), RangeEnd = Key(HistoryKey + HistoryName(oldest)) } });
            }
            var result = Transaction(txn);
            if (result.Succeeded)
            {
                var digest = assigned.Count > 0 ? Digest(result.Header.Revision) : read.Value.Digest;
                return unchanged
                    ? new CommitResult(previous!, Changed: false, assigned, digest)
                    : new CommitResult(candidate, Changed: true, assigned, digest);
            }
            if (attempt == Attempts) throw Busy(RunningLocation);
            Backoff(attempt);
        }
    }

    /// <summary>The committed versions kept, oldest first (the newest is the running one).</summary>
    public IReadOnlyList<Snapshot> ReadHistory()
    {
        var range = Call(() => client.GetRange(Options.Prefix + HistoryKey, deadline: Deadline()));
        return [.. range.Kvs.Select(kv => SnapshotFormat.Read(kv.Value.ToByteArray(), Description + kv.Key.ToStringUtf8())).OrderBy(s => s.Version)];
    }

    private long LatestHistoryVersion()
    {
        var request = new RangeRequest
        {
            Key = Key(HistoryKey), RangeEnd = RangeEnd(Key(HistoryKey)), Limit = 1, KeysOnly = true,
            SortOrder = RangeRequest.Types.SortOrder.Descend, SortTarget = RangeRequest.Types.SortTarget.Key,
        };
        var range = Call(() => client.Get(request, deadline: Deadline()));
        return range.Kvs.Count == 1 && long.TryParse(range.Kvs[0].Key.ToStringUtf8().AsSpan((Options.Prefix + HistoryKey).Length), out var v) ? v : 0;
    }

    private static string HistoryName(long version) => version.ToString("D10", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Stores <paramref name="snapshot"/> as the running one (with its version, in the
    /// history too), as a migration does: no validation beyond what reading it did.</summary>
    public void WriteRunning(Snapshot snapshot)
    {
        var json = SnapshotFormat.Write(snapshot);
        var txn = new TxnRequest();
        txn.Success.Add(Put(runningKey, json));
        txn.Success.Add(Put(Key(HistoryKey + HistoryName(snapshot.Version)), json));
        Transaction(txn);
    }

    /// <summary>Replaces the pending config with <paramref name="config"/>, as a migration does.</summary>
    public void WritePending(PolicyConfig config)
    {
        var txn = new TxnRequest();
        txn.Success.Add(Put(pendingKey, SectionConfig.WriteBytes(config)));
        Transaction(txn);
    }

    /// <summary>The snapshot now, then each change, from an etcd watch on the running key. When
    /// the cluster cannot be reached, one change carries the problem (the watcher keeps what it
    /// has) and the watch retries; back in touch, the snapshot is reported again, even if
    /// unchanged, so that the watcher knows the trouble is over.</summary>
    public async IAsyncEnumerable<RunningChange> WatchRunning([EnumeratorCancellation] CancellationToken cancel)
    {
        var changes = Channel.CreateUnbounded<RunningChange>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var follower = Task.Run(() => FollowRunning(changes.Writer, stop.Token), CancellationToken.None);
        try
        {
            while (true)
            {
                bool more;
                try { more = await changes.Reader.WaitToReadAsync(cancel); }
                catch (OperationCanceledException) { more = false; }
                if (!more) break;
                while (changes.Reader.TryRead(out var change)) yield return change;
            }
        }
        finally
        {
            stop.Cancel();
            await follower;
        }
    }

    private async Task FollowRunning(ChannelWriter<RunningChange> output, CancellationToken stop)
    {
        long reported = -1;
        var troubled = false;
        var delay = RetryInterval;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var range = await client.GetAsync(new RangeRequest { Key = runningKey }, deadline: Deadline(), cancellationToken: stop);
                var revision = range.Kvs.Count == 0 ? 0 : range.Kvs[0].ModRevision;
                if (revision != reported || troubled)
                {
                    output.TryWrite(ChangeAt(range.Kvs.Count == 0 ? null : range.Kvs[0].Value.ToByteArray(), revision));
                    reported = revision;
                    troubled = false;
                }
                delay = RetryInterval;
                // "hasleader": a member cut off from the others ends the watch instead of going quiet.
                using var call = client.GetConnection().WatchClient.Watch(new Metadata { { "hasleader", "true" } }, cancellationToken: stop);
                await call.RequestStream.WriteAsync(new WatchRequest
                {
                    CreateRequest = new WatchCreateRequest { Key = runningKey, StartRevision = range.Header.Revision + 1 },
                }, stop);
                while (await call.ResponseStream.MoveNext(stop))
                {
                    var response = call.ResponseStream.Current;
                    if (response.Canceled || response.CompactRevision > 0) break;
                    foreach (var e in response.Events)
                    {
                        var deleted = e.Type == Mvccpb.Event.Types.EventType.Delete;
                        reported = deleted ? 0 : e.Kv.ModRevision;
                        output.TryWrite(ChangeAt(deleted ? null : e.Kv.Value.ToByteArray(), reported));
                    }
                }
            }
            catch (Exception) when (stop.IsCancellationRequested) { break; }
            catch (Exception e) when (IsUnreachable(e))
            {
                if (!troubled) output.TryWrite(new RunningChange(null, Unreachable(e)));
                troubled = true;
                try { await Task.Delay(delay, stop); }
                catch (OperationCanceledException) { break; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, RetryInterval.Ticks * 8));
            }
        }
        output.TryComplete();
    }

    private RunningChange ChangeAt(byte[]? bytes, long revision)
    {
        if (bytes is null) return new RunningChange(null, null);
        try { return new RunningChange(RunningAt(bytes, revision), null); }
        catch (ConfigException e) { return new RunningChange(null, e); }
    }

    // ---- tokens -----------------------------------------------------------------------------

    /// <summary>The token records; while etcd is unreachable, the ones read last (a server
    /// keeps authenticating with what it knew; nobody can change them meanwhile anyway).</summary>
    public IReadOnlyList<StoredToken> ReadTokens()
    {
        try { return ReadTokensAt().Value; }
        catch (ConfigException) when (Volatile.Read(ref tokens) is { } known) { return known.Value; }
    }

    private Parsed<IReadOnlyList<StoredToken>> ReadTokensAt()
    {
        var (bytes, revision) = Get(tokensKey);
        if (Volatile.Read(ref tokens) is { } cached && cached.Revision == revision) return cached;
        var fresh = new Parsed<IReadOnlyList<StoredToken>>(revision, bytes is null ? [] : TokenFormat.Read(bytes, TokensLocation));
        Volatile.Write(ref tokens, fresh);
        return fresh;
    }

    public void EditTokens(Func<IReadOnlyList<StoredToken>, IReadOnlyList<StoredToken>?> edit)
    {
        for (var attempt = 0; ; attempt++)
        {
            var read = ReadTokensAt();
            if (edit(read.Value) is not { } edited) return;
            var txn = new TxnRequest();
            txn.Compare.Add(ModIs(tokensKey, read.Revision));
            txn.Success.Add(Put(tokensKey, TokenFormat.Write(edited)));
            if (Transaction(txn).Succeeded) return;
            if (attempt == Attempts) throw Busy(TokensLocation);
            Backoff(attempt);
        }
    }

    // ---- nodes ------------------------------------------------------------------------------

    public INodeStatusSink NodeStatusSink(string node) => new EtcdNodeStatusSink(this, node);

    public IReadOnlyList<NodeStatus> ReadNodes()
    {
        var range = Call(() => client.GetRange(Options.Prefix + NodesKey, deadline: Deadline()));
        return [.. range.Kvs.Select(kv => NodeStatus.FromJson(kv.Value.Span)).OfType<NodeStatus>().OrderBy(n => n.Node, StringComparer.Ordinal)];
    }

    internal ByteString NodeKey(string node) => Key(NodesKey + node);

    internal EtcdClient Client => client;

    // ---- shared -----------------------------------------------------------------------------

    internal ByteString Key(string name) => ByteString.CopyFromUtf8(Options.Prefix + name);

    internal DateTime Deadline() => DateTime.UtcNow + CallTimeout;

    private static string Digest(long revision) => revision.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private void EnsureDigest(string? expected, string actual)
    {
        if (expected is not null && expected != actual)
            throw new DigestConflictException(PendingLocation, expected, actual);
    }

    private (byte[]? Bytes, long ModRevision) Get(ByteString key)
    {
        var range = Call(() => client.Get(new RangeRequest { Key = key }, deadline: Deadline()));
        return range.Kvs.Count == 0 ? (null, 0) : (range.Kvs[0].Value.ToByteArray(), range.Kvs[0].ModRevision);
    }

    private TxnResponse Transaction(TxnRequest txn) => Call(() => client.Transaction(txn, deadline: Deadline()));

    private static Compare ModIs(ByteString key, long revision) => new()
    {
        Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = revision,
    };

    private static RequestOp Put(ByteString key, byte[] value) =>
        new() { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFrom(value) } };

    /// <summary>The end of the range of every key starting with <paramref name="prefix"/>.</summary>
    private static ByteString RangeEnd(ByteString prefix)
    {
        var end = prefix.ToByteArray();
        end[^1]++;
        return ByteString.CopyFrom(end);
    }

    internal T Call<T>(Func<T> call)
    {
        try { return call(); }
        catch (Exception e) when (IsUnreachable(e)) { throw Unreachable(e); }
    }

    /// <summary>A failure to talk to etcd (not a refusal of what was asked). A cancellation
    /// that no caller asked for is a deadline that passed while connecting.</summary>
    internal static bool IsUnreachable(Exception e) =>
        e is RpcException or HttpRequestException or IOException or TimeoutException or OperationCanceledException
        || e.InnerException is RpcException or HttpRequestException or IOException or OperationCanceledException;

    internal ConfigException Unreachable(Exception e)
    {
        var detail = (e as RpcException ?? e.InnerException as RpcException) is { } rpc
            ? rpc.StatusCode switch
            {
                StatusCode.DeadlineExceeded => $"no answer within {CallTimeout.TotalSeconds:0.#} s",
                StatusCode.Unauthenticated or StatusCode.PermissionDenied => $"refused: {rpc.Status.Detail} (check MICROSEG_ETCD_USER and its password)",
                _ => rpc.Status.Detail is { Length: > 0 } d ? d : rpc.StatusCode.ToString(),
            }
            : e is OperationCanceledException ? $"no answer within {CallTimeout.TotalSeconds:0.#} s" : e.Message;
        return new ConfigException(Description, $"etcd unreachable: {detail}");
    }

    private static void Backoff(int attempt) => Thread.Sleep(Random.Shared.Next(1, 5 + 5 * Math.Min(attempt, 20)));

    private ConfigException Busy(string where) =>
        new(where, $"changed by others {Attempts} times while this edit was being made: try again");

    private static bool SameContent(Snapshot a, Snapshot b) =>
        SnapshotFormat.Write(a with { Version = 0 }).AsSpan().SequenceEqual(SnapshotFormat.Write(b with { Version = 0 }));

    private static EtcdClient Connect(EtcdStoreOptions options)
    {
        void Channel(GrpcChannelOptions channel)
        {
            var handler = new SocketsHttpHandler
            {
                // A dead member is noticed by its missing pings, not only by a closed connection.
                KeepAlivePingDelay = TimeSpan.FromSeconds(5),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                ConnectTimeout = TimeSpan.FromSeconds(3),
                EnableMultipleHttp2Connections = true,
            };
            if (options.Tls) handler.SslOptions = EtcdTls.ClientOptions(options);
            channel.HttpHandler = handler;
            channel.DisposeHttpClient = true;
        }
        return options.User is { } user
            ? new EtcdClient(options.ConnectionString, user, options.Password!, configureChannelOptions: Channel)
            : new EtcdClient(options.ConnectionString, configureChannelOptions: Channel);
    }

    public void Dispose() => client.Dispose();
}
