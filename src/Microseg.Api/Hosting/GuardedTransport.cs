// Kestrel's socket transport with the ConnectionGuard in front of accept(): the listener takes a
// slot before it accepts, and the connection gives it back once its socket is closed (Kestrel
// disposes every connection it accepted when it is done with it). Kestrel has no bound of its own
// that works this way: MaxConcurrentConnections accepts first and then closes, so a flood still
// takes a descriptor per connection, as fast as accept() runs.
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace Microseg.Api.Hosting;

internal sealed class GuardedTransportFactory(SocketTransportFactory sockets, ConnectionGuard guard)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => sockets.CanBind(endpoint);

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new GuardedListener(await sockets.BindAsync(endpoint, cancellationToken), guard);
}

internal sealed class GuardedListener(IConnectionListener sockets, ConnectionGuard guard) : IConnectionListener
{
    private readonly CancellationTokenSource unbound = new();

    public EndPoint EndPoint => sockets.EndPoint;

    /// <summary>The next connection once a slot is free; null once unbound.</summary>
    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        using (var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, unbound.Token))
        {
            try
            {
                await guard.TakeAsync(either.Token);
            }
            catch (OperationCanceledException) when (unbound.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                return null;
            }
        }
        ConnectionContext? connection;
        try
        {
            connection = await sockets.AcceptAsync(cancellationToken);
        }
        catch
        {
            guard.Release();
            throw;
        }
        if (connection is null)
        {
            guard.Release();
            return null;
        }
        return new GuardedConnection(connection, guard);
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        unbound.Cancel();
        return sockets.UnbindAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        unbound.Cancel();
        await sockets.DisposeAsync();
        unbound.Dispose();
    }
}

/// <summary>A socket connection that gives its slot back when Kestrel disposes it (which closes
/// the socket); everything else is the socket connection's.</summary>
internal sealed class GuardedConnection(ConnectionContext socket, ConnectionGuard guard) : ConnectionContext
{
    private int released;

    public override string ConnectionId { get => socket.ConnectionId; set => socket.ConnectionId = value; }
    public override IFeatureCollection Features => socket.Features;
    public override IDictionary<object, object?> Items { get => socket.Items; set => socket.Items = value; }
    public override IDuplexPipe Transport { get => socket.Transport; set => socket.Transport = value; }
    public override CancellationToken ConnectionClosed { get => socket.ConnectionClosed; set => socket.ConnectionClosed = value; }
    public override EndPoint? LocalEndPoint { get => socket.LocalEndPoint; set => socket.LocalEndPoint = value; }
    public override EndPoint? RemoteEndPoint { get => socket.RemoteEndPoint; set => socket.RemoteEndPoint = value; }

    public override void Abort(ConnectionAbortedException abortReason) => socket.Abort(abortReason);

    public override void Abort() => socket.Abort();

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await socket.DisposeAsync();
        }
        finally
        {
            if (Interlocked.Exchange(ref released, 1) == 0) guard.Release();
        }
    }
}
