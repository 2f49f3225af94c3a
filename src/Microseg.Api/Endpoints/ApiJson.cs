// Response bodies: every one is {"data": ...} (errors add "message" and "errors"), written
// with Utf8JsonWriter in the shapes the CLI's --json uses.
using System.Buffers;
using System.Text;
using System.Text.Json;
using Microseg.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Microseg.Api.Endpoints;

internal static class ApiJson
{
    private static readonly JsonWriterOptions Options = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static Task WriteAsync(HttpContext ctx, Action<Utf8JsonWriter> data, Action<Utf8JsonWriter>? more = null) =>
        WriteBodyAsync(ctx, StatusCodes.Status200OK, w =>
        {
            w.WritePropertyName("data");
            data(w);
            more?.Invoke(w);
        });

    /// <summary>The longest reason phrase we send (the message is whole in the body).</summary>
    public const int MaxReasonLength = 256;

    /// <summary>An error: the message in the body and, as Proxmox's API server sends it, in the
    /// reason phrase, for clients that read only the status line.</summary>
    public static Task WriteErrorAsync(HttpContext ctx, int status, string message, IReadOnlyDictionary<string, string>? errors = null)
    {
        if (ctx.Features.Get<IHttpResponseFeature>() is { } response) response.ReasonPhrase = ReasonPhrase(message);
        return WriteBodyAsync(ctx, status, w =>
        {
            w.WriteNull("data");
            w.WriteString("message", message);
            if (errors is { Count: > 0 })
            {
                w.WriteStartObject("errors");
                foreach (var (field, problem) in errors) w.WriteString(field, problem);
                w.WriteEndObject();
            }
        });
    }

    /// <summary>The message as a reason phrase: its first line, printable ASCII only (others
    /// become '?'), at most <see cref="MaxReasonLength"/> characters.</summary>
    public static string ReasonPhrase(string message)
    {
        var line = message.AsSpan();
        if (line.IndexOfAny('\r', '\n') is var end and >= 0) line = line[..end];
        var reason = new StringBuilder(MaxReasonLength + 1);
        foreach (var rune in line.EnumerateRunes())
        {
            reason.Append(rune.Value is >= 0x20 and <= 0x7E ? (char)rune.Value : '?');
            if (reason.Length > MaxReasonLength) break;
        }
        if (reason.Length > MaxReasonLength)
        {
            reason.Length = MaxReasonLength - 3;
            reason.Append("...");
        }
        var text = reason.ToString().Trim();
        return text.Length > 0 ? text : "Error";
    }

    private static async Task WriteBodyAsync(HttpContext ctx, int status, Action<Utf8JsonWriter> members)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            members(w);
            w.WriteEndObject();
        }
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-store";
        ctx.Response.ContentLength = buffer.WrittenCount + 1;
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ctx.RequestAborted);
        await ctx.Response.Body.WriteAsync("\n"u8.ToArray(), ctx.RequestAborted);
    }

    /// <summary>An object as the snapshot holds it, plus the digest of the pending file (null
    /// for an object of the committed snapshot, which writes are not checked against).</summary>
    public static void WriteObject(Utf8JsonWriter w, IConfigObject obj, string? digest)
    {
        w.WriteStartObject();
        SnapshotFormat.WriteFields(w, obj);
        if (digest is null) w.WriteNull("digest"); else w.WriteString("digest", digest);
        w.WriteEndObject();
    }
}
