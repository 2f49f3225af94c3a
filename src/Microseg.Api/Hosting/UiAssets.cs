// The web UI's files, embedded in this assembly at build time and served from memory: the
// server needs no directory beside the binary and fetches nothing at run time.
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Microseg.Api.Hosting;

internal sealed class UiAssets
{
    private const string Prefix = "wwwroot/";

    // Only our own files run in the page; the API is the only thing it talks to.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag);

    private readonly Dictionary<string, Asset> assets = new(StringComparer.Ordinal);

    public UiAssets()
    {
        var assembly = typeof(UiAssets).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var path = "/" + name[Prefix.Length..];
            assets[path] = new Asset(bytes, ContentType(path), $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }
        if (!assets.ContainsKey("/index.html")) throw new InvalidOperationException("the web UI is missing from the build (wwwroot/index.html)");
    }

    public void MapTo(IEndpointRouteBuilder app)
    {
        app.MapGet("/", ctx => Serve(ctx, assets["/index.html"]));
        foreach (var (path, asset) in assets) app.MapGet(path, ctx => Serve(ctx, asset));
    }

    private static Task Serve(HttpContext ctx, Asset asset)
    {
        var headers = ctx.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        if (ctx.Request.Headers.IfNoneMatch == asset.ETag)
        {
            ctx.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        ctx.Response.ContentType = asset.ContentType;
        ctx.Response.ContentLength = asset.Bytes.Length;
        return ctx.Response.Body.WriteAsync(asset.Bytes, ctx.RequestAborted).AsTask();
    }

    private static string ContentType(string path) => Path.GetExtension(path) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };
}
