// `microseg serve`: Kestrel with the API routes, token auth and the embedded web UI. Started
// by the CLI, and by tests on 127.0.0.1 with port 0.
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microseg.Agent;
using Microseg.Api.Auth;
using Microseg.Api.Editing;
using Microseg.Api.Endpoints;
using Microseg.Api.Hosting;
using Microseg.Api.Metrics;
using Microseg.Api.Observe;
using Microseg.Agent.Resident;
using Prometheus;
using Microseg.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Microseg.Api;

/// <summary>What the server serves and where. Certificate null = plain HTTP.</summary>
public sealed record ApiServerOptions(
    string ConfigDirectory,
    IPEndPoint Listen,
    AgentOptions Agent,
    string? RunningConfigPath = null,
    X509Certificate2? Certificate = null,
    LogLevel MinimumLogLevel = LogLevel.Warning,
    IConfigStore? Store = null);

public sealed partial class ApiServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private ApiServer(WebApplication app, Uri address, IReadOnlyList<Uri> listening, IReadOnlyList<ApiRoute> routes, TokenStore tokens, int connectionLimit)
    {
        this.app = app;
        Address = address;
        Listening = listening;
        Routes = routes;
        Tokens = tokens;
        ConnectionLimit = connectionLimit;
    }

    /// <summary>A base URL a client on this host reaches the server at (with the port it got;
    /// loopback for a wildcard listen).</summary>
    public Uri Address { get; }

    /// <summary>What the server is bound to, as the socket has it (0.0.0.0 and [::] included).</summary>
    public IReadOnlyList<Uri> Listening { get; }

    public IReadOnlyList<ApiRoute> Routes { get; }

    public TokenStore Tokens { get; }

    /// <summary>The most connections served at once (see <see cref="ConnectionGuard"/>).</summary>
    public int ConnectionLimit { get; }

    /// <summary>Binds and starts serving; throws (IOException) when the address is taken.</summary>
    public static async Task<ApiServer> StartAsync(ApiServerOptions options, CancellationToken cancel = default)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "microseg" });
        // Until the server listens, the framework's own logs only retell (with a stack trace)
        // the exception StartAsync throws, which our caller reports in one line.
        var started = false;
        builder.Logging
            .AddConsole(o =>
            {
                o.FormatterName = ConsoleFormatterNames.Systemd;
                o.LogToStandardErrorThreshold = LogLevel.Trace; // stdout is for results
            })
            .SetMinimumLevel(options.MinimumLogLevel)
            .AddFilter((category, level) => level >= options.MinimumLogLevel
                                            && (Volatile.Read(ref started) || category?.StartsWith("Microsoft.", StringComparison.Ordinal) != true));
        var openFiles = ConnectionGuard.OpenFilesLimit();
        var guard = new ConnectionGuard(openFiles);

        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            var limits = k.Limits;
            limits.MaxRequestBodySize = RequestFields.MaxBodyBytes;
            // No MaxConcurrentConnections: the guard bounds connections before accept().
            limits.MaxConcurrentUpgradedConnections = 0; // no WebSockets here
            limits.MaxRequestHeaderCount = 64; // as pve-http-server
            // What frees a slot held by a client that sends nothing, or too little: a new or
            // kept-alive connection with no request under way is closed after KeepAliveTimeout
            // (Kestrel sets it before it reads a request's first byte), a request line and
            // headers must arrive within RequestHeadersTimeout, a body at MinRequestBodyDataRate
            // (Kestrel's default: 240 bytes/s after 5 s), a TLS handshake within 10 s (Kestrel's
            // HandshakeTimeout default).
            limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            k.Listen(options.Listen, listen =>
            {
                // HTTP/1.1 only, as Proxmox's API: HTTP/2 has no reason phrase to carry errors in.
                listen.Protocols = HttpProtocols.Http1;
                if (options.Certificate is { } cert) listen.UseHttps(cert);
            });
        });
        // Kestrel's socket transport behind the guard (see GuardedTransport), in place of the
        // plain one UseKestrelCore registered. Connections past the bound wait in the listen
        // backlog: as long a one as the kernel allows (net.core.somaxconn caps it, 4096 by
        // default), so a flood waits there rather than having its SYNs dropped and retried.
        builder.Services.Configure<SocketTransportOptions>(o => o.Backlog = 4096);
        builder.Services.RemoveAll<IConnectionListenerFactory>();
        builder.Services.AddSingleton<SocketTransportFactory>();
        builder.Services.AddSingleton<IConnectionListenerFactory>(services =>
            new GuardedTransportFactory(services.GetRequiredService<SocketTransportFactory>(), guard));
        builder.Services.AddRoutingCore();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        var app = builder.Build();
        var logs = app.Services.GetRequiredService<ILoggerFactory>();
        guard.Log = logs.CreateLogger("microseg.api");
        var store = options.Store ?? new DirectoryConfigStore(options.ConfigDirectory, options.RunningConfigPath);
        var tokens = new TokenStore(store);
        var metrics = new NodeMetrics(options.Agent, logs);
        var cache = new ConfigCache(store);
        var drops = new DropFeed(options.Agent, () => cache.ReadRunning()?.Config, logs);
        var agent = new LocalAgent(options.Agent, logs, new AppliedThen(metrics, drops.Reopen));
        var endpoints = new ApiEndpoints(new PendingEditor(store), cache, tokens, agent, new ObserveEndpoints(agent, drops));

        app.Use(Unexpected(logs.CreateLogger("microseg.api")));
        app.UseRouting();
        endpoints.MapTo(app);
        // No token: Prometheus scrapes without one (docs/api.md says why and what it shows).
        app.MapMetrics("/metrics", metrics.Registry);
        new UiAssets().MapTo(app);

        try
        {
            await app.StartAsync(cancel);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        Volatile.Write(ref started, true);
        drops.Start();
        app.Lifetime.ApplicationStopping.Register(() => drops.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5)));
        guard.Limit = ConnectionGuard.LimitFor(openFiles, ConnectionGuard.OpenDescriptors());
        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a + "/")).ToList();
        // Kestrel reports the wildcard host as it was given; a client needs a concrete one.
        var address = new Uri(bound[0].ToString().Replace("://0.0.0.0:", "://127.0.0.1:").Replace("://[::]:", "://[::1]:"));
        return new ApiServer(app, address, bound, endpoints.Routes, tokens, guard.Limit);
    }

    /// <summary>Completes when the server was stopped (SIGTERM or SIGINT).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancel = default) => app.WaitForShutdownAsync(cancel);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>A bug must not reach the client as a bare reset: log it, answer 500 in the API's
    /// shape. The client gets no exception type or internals; the log has them.</summary>
    private static Func<HttpContext, RequestDelegate, Task> Unexpected(ILogger log) => async (ctx, next) =>
    {
        try
        {
            await next(ctx);
        }
        catch (Exception e) when (!ctx.Response.HasStarted && e is not OperationCanceledException)
        {
            LogUnexpected(log, ctx.Request.Method, ctx.Request.Path, e);
            ctx.Response.Clear();
            await ApiJson.WriteErrorAsync(ctx, StatusCodes.Status500InternalServerError,
                $"internal error while serving {ctx.Request.Method} {ctx.Request.Path} (the server's log has the details)");
        }
    };

    /// <summary>After each apply of the server's own: the metrics record it, and the drops are
    /// read from the (maybe new) programs' pins.</summary>
    private sealed class AppliedThen(IApplyObserver metrics, Action then) : IApplyObserver
    {
        public void Applied(ApplyKind kind, TimeSpan duration, bool failed, long version)
        {
            metrics.Applied(kind, duration, failed, version);
            then();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogUnexpected(ILogger log, string method, string path, Exception exception);
}
