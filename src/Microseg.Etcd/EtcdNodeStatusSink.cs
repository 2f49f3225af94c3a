// An agent's record under PREFIX/nodes/NODE, bound to a lease the sink keeps alive: the record
// goes away a lease time after its agent does. Report only remembers the newest record; a
// background loop grants the lease, writes the record, and keeps the lease alive, and when
// etcd is unreachable or has lost the lease (a long outage) it starts over once it is back.
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microseg.Agent.Resident;

namespace Microseg.Etcd;

internal sealed class EtcdNodeStatusSink : INodeStatusSink
{
    private readonly EtcdConfigStore store;
    private readonly ByteString key;
    private readonly CancellationTokenSource stop = new();
    private readonly SemaphoreSlim wake = new(0);
    private readonly Task loop;
    private NodeStatus? latest;

    public EtcdNodeStatusSink(EtcdConfigStore store, string node)
    {
        this.store = store;
        key = store.NodeKey(node);
        loop = Task.Run(Loop);
    }

    public void Report(NodeStatus status)
    {
        Volatile.Write(ref latest, status);
        if (wake.CurrentCount == 0) wake.Release();
    }

    private async Task Loop()
    {
        var ttl = store.NodeLeaseTtl;
        long lease = 0;
        NodeStatus? written = null;
        while (!stop.IsCancellationRequested)
        {
            var pause = ttl / 3;
            try
            {
                if (lease == 0)
                {
                    lease = (await store.Client.LeaseGrantAsync(new LeaseGrantRequest { TTL = (long)Math.Ceiling(ttl.TotalSeconds) }, deadline: store.Deadline(), cancellationToken: stop.Token)).ID;
                    written = null;
                }
                var now = Volatile.Read(ref latest);
                if (now is not null && !ReferenceEquals(now, written))
                {
                    await store.Client.PutAsync(new PutRequest { Key = key, Value = ByteString.CopyFrom(now.ToJson()), Lease = lease }, deadline: store.Deadline(), cancellationToken: stop.Token);
                    written = now;
                }
                else if (!await KeepAlive(lease))
                {
                    lease = 0;
                    continue;
                }
            }
            catch (Exception) when (stop.IsCancellationRequested) { break; }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                lease = 0; // the lease expired while etcd was away: a new one, and the record again
                continue;
            }
            catch (Exception e) when (EtcdConfigStore.IsUnreachable(e))
            {
                pause = store.RetryInterval;
            }
            try { await wake.WaitAsync(pause, stop.Token); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>One keep-alive of <paramref name="lease"/>; false when etcd no longer has it.</summary>
    private async Task<bool> KeepAlive(long lease)
    {
        using var call = store.Client.GetConnection().LeaseClient.LeaseKeepAlive(deadline: store.Deadline(), cancellationToken: stop.Token);
        await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, stop.Token);
        await call.RequestStream.CompleteAsync();
        return await call.ResponseStream.MoveNext(stop.Token) && call.ResponseStream.Current.TTL > 0;
    }

    public void Dispose()
    {
        stop.Cancel();
        try { loop.Wait(TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { }
        stop.Dispose();
        wake.Dispose();
    }
}
