// `microseg serve`: Kestrel with the API routes, token auth and the embedded web UI. Started
// by the CLI, and by tests on 127.0.0.1 with port 0.
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microseg.Agent;
using Microseg.Api.Auth;
using Microseg.Api.Editing;
using Microseg.Api.Endpoints;
using Microseg.Api.Hosting;
using Microseg.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
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
    LogLevel MinimumLogLevel = LogLevel.Warning);

public sealed partial class ApiServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private ApiServer(WebApplication app, Uri address, IReadOnlyList<ApiRoute> routes, TokenStore tokens)
    {
        this.app = app;
        Address = address;
        Routes = routes;
        Tokens = tokens;
    }

    /// <summary>The base URL the server listens on (with the port it got).</summary>
    public Uri Address { get; }

    public IReadOnlyList<ApiRoute> Routes { get; }

    public TokenStore Tokens { get; }

    /// <summary>Binds and starts serving; throws (IOException) when the address is taken.</summary>
    public static async Task<ApiServer> StartAsync(ApiServerOptions options, CancellationToken cancel = default)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "microseg" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 1 << 20;
            k.Listen(options.Listen, listen =>
            {
                if (options.Certificate is { } cert) listen.UseHttps(cert);
            });
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Logging
            .AddConsole(o =>
            {
                o.FormatterName = ConsoleFormatterNames.Systemd;
                o.LogToStandardErrorThreshold = LogLevel.Trace; // stdout is for results
            })
            .SetMinimumLevel(options.MinimumLogLevel);

        var app = builder.Build();
        var logs = app.Services.GetRequiredService<ILoggerFactory>();
        var store = new DirectoryConfigStore(options.ConfigDirectory, options.RunningConfigPath);
        var tokens = new TokenStore(store);
        var endpoints = new ApiEndpoints(new PendingEditor(store), new ConfigCache(store), tokens, new LocalAgent(options.Agent, logs));

        app.Use(Unexpected(logs.CreateLogger("microseg.api")));
        app.UseRouting();
        endpoints.MapTo(app);
        new UiAssets().MapTo(app);

        await app.StartAsync(cancel);
        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()!.Addresses.First();
        // Kestrel reports the wildcard host as it was given; a client needs a concrete one.
        var address = new Uri(bound.Replace("://0.0.0.0:", "://127.0.0.1:").Replace("://[::]:", "://[::1]:") + "/");
        return new ApiServer(app, address, endpoints.Routes, tokens);
    }

    /// <summary>Completes when the server was stopped (SIGTERM or SIGINT).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancel = default) => app.WaitForShutdownAsync(cancel);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>A bug must not reach the client as a bare reset: log it, answer 500 in the API's shape.</summary>
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
            await ApiJson.WriteErrorAsync(ctx, StatusCodes.Status500InternalServerError, $"internal error: {e.GetType().Name}: {e.Message}");
        }
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private static partial void LogUnexpected(ILogger log, string method, string path, Exception exception);
}
