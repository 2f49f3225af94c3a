// `microseg agent --metrics ADDRESS:PORT`: a listener that serves only GET /metrics (the node's
// metrics, in Prometheus' text format) beside the resident agent. No token: Prometheus scrapes
// without one, and the default address is the loopback one.
using System.Globalization;
using System.Net;
using Microseg.Api.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Microseg.Api.Metrics;

public sealed class MetricsServer : IAsyncDisposable
{
    /// <summary>The port the docs and examples use: one no exporter in Prometheus' list of
    /// default ports has taken.</summary>
    public const int ExamplePort = 9617;

    private readonly WebApplication app;

    private MetricsServer(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
    }

    /// <summary>The URL of /metrics, with the port the listener got.</summary>
    public Uri Address { get; }

    /// <summary>`--metrics` as given: PORT (on 127.0.0.1) or ADDRESS:PORT.</summary>
    public static IPEndPoint ParseListen(string text)
    {
        if (ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            return new IPEndPoint(IPAddress.Loopback, port);
        try { return ListenAddress.Parse(text); }
        catch (ArgumentException)
        {
            throw new ArgumentException($"--metrics '{Microseg.Policy.Text.Clip(text)}' is not PORT or ADDRESS:PORT (e.g. {ExamplePort}, 127.0.0.1:{ExamplePort}, [::1]:{ExamplePort})");
        }
    }

    /// <summary>Binds and starts serving; throws (IOException) when the address is taken.</summary>
    public static async Task<MetricsServer> StartAsync(IPEndPoint listen, NodeMetrics metrics, CancellationToken cancel = default)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "microseg-metrics" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxConcurrentConnections = 16;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            k.Listen(listen, l => l.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddRoutingCore();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        var app = builder.Build();
        app.UseRouting();
        app.MapMetrics("/metrics", metrics.Registry);
        app.Map("/{**rest}", ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            return ctx.Response.WriteAsync("only /metrics is served here\n", ctx.RequestAborted);
        });
        try
        {
            await app.StartAsync(cancel);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var address = bound.Replace("://0.0.0.0:", "://127.0.0.1:").Replace("://[::]:", "://[::1]:");
        return new MetricsServer(app, new Uri(address + "/metrics"));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
