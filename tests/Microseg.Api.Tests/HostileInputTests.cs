// What a careless or hostile client sends: malformed text, oversized bodies, forms that trip the
// form reader's limits, comments that would grow the config without bound. Each is a 4xx with
// a message (never a 500, never an exception's type), and the message is in the reason phrase
// too, as Proxmox's API server sends it.
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Microseg.Api.Tests;

/// <summary>One HTTP/1.1 exchange over a raw socket: the request exactly as given, the answer
/// as it came (status, reason phrase, headers, body).</summary>
public sealed record RawResponse(int Status, string Reason, Dictionary<string, string> Headers, string Body)
{
    public string? Message
    {
        get
        {
            try { return JsonDocument.Parse(Body).RootElement.GetProperty("message").GetString(); }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return null; }
        }
    }

    public string? Error(string field)
    {
        try { return JsonDocument.Parse(Body).RootElement.GetProperty("errors").GetProperty(field).GetString(); }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return null; }
    }

    public override string ToString() => $"{Status} {Reason} {Body}";

    public static async Task<RawResponse> SendAsync(Uri server, string head, byte[] body)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(server.Host, server.Port, timeout.Token);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        // The server may answer (413) before it has read the whole body: send it beside reading.
        var send = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
                await stream.WriteAsync(body, timeout.Token);
            }
            catch (IOException) { } // the server closed early: its answer says why
        });
        var received = new MemoryStream();
        var buffer = new byte[65536];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0) received.Write(buffer, 0, n);
        }
        catch (IOException) when (received.Length > 0) { } // reset after the answer
        await send;
        var text = Encoding.UTF8.GetString(received.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, $"no HTTP answer: '{text}'");
        var lines = text[..split].Split("\r\n");
        var status = lines[0].Split(' ', 3);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        return new RawResponse(int.Parse(status[1], System.Globalization.CultureInfo.InvariantCulture), status.Length > 2 ? status[2] : "", headers, text[(split + 4)..]);
    }

    /// <summary>A request with a Content-Length body.</summary>
    public static Task<RawResponse> SendAsync(ApiHost api, string method, string path, string? contentType, byte[] body, string? token = null)
    {
        var head = new StringBuilder($"{method} /{ApiHost.Base}/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        head.Append($"Authorization: PVEAPIToken={token ?? api.Admin}\r\n");
        if (contentType is not null) head.Append($"Content-Type: {contentType}\r\n");
        head.Append($"Content-Length: {body.Length}\r\n\r\n");
        return SendAsync(api.Address, head.ToString(), body);
    }
}

public sealed class HostileInputTests
{
    private const string Json = "application/json", Form = "application/x-www-form-urlencoded";

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static string Nested(int depth) => string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);

    public static TheoryData<string, string, string, string?, byte[], int> BadRequests => new()
    {
        // kind, method, path, content type, body, expected status
        { "JSON: lone high surrogate in a value", "POST", "group", Json, Bytes("{\"id\":\"\\ud800\"}"), 400 },
        { "JSON: lone low surrogate in a name", "POST", "group", Json, Bytes("{\"\\udc00\":\"x\"}"), 400 },
        { "JSON: lone surrogate in a list item", "POST", "bridge", Json, Bytes("{\"id\":\"eth1\",\"nodes\":[\"\\ud800\"]}"), 400 },
        { "JSON: lone surrogate in delete", "PUT", "group/web", Json, Bytes("{\"delete\":[\"\\ud800\"]}"), 400 },
        { "JSON: invalid UTF-8 in a value", "POST", "group", Json, Concat(Bytes("{\"id\":\""), [0xC3, 0x28], Bytes("\"}")), 400 },
        { "JSON: invalid UTF-8 in a name", "POST", "group", Json, Concat(Bytes("{\""), [0xFF, 0xFE], Bytes("\":1}")), 400 },
        { "JSON: overlong UTF-8 encoding", "POST", "group", Json, Concat(Bytes("{\"id\":\""), [0xC0, 0xAF], Bytes("\"}")), 400 },
        { "JSON: body over 1 MiB", "POST", "group", Json, Bytes("{\"id\":\"web\",\"comment\":\"" + new string('x', 1100 * 1024) + "\"}"), 413 },
        { "JSON: body over 64 KiB", "POST", "group", Json, Bytes("{\"id\":\"web\",\"comment\":\"" + new string('x', 70 * 1024) + "\"}"), 413 },
        { "JSON: truncated", "POST", "group", Json, Bytes("{\"id\":\"we"), 400 },
        { "JSON: an array, not an object", "POST", "group", Json, Bytes("[1,2]"), 400 },
        { "JSON: null", "POST", "group", Json, Bytes("null"), 400 },
        { "JSON: a number beyond double", "POST", "group", Json, Bytes("{\"id\":\"web2\",\"mark\":1e400}"), 400 },
        { "JSON: a number beyond long", "POST", "assignment", Json, Bytes("{\"vmid\":99999999999999999999999,\"iface\":0,\"group\":\"web\"}"), 400 },
        { "JSON: a string number beyond long", "POST", "assignment", Json, Bytes("{\"vmid\":\"99999999999999999999999\",\"iface\":0,\"group\":\"web\"}"), 400 },
        { "JSON: nested 100 deep", "POST", "group", Json, Bytes(Nested(100)), 400 },
        { "JSON: nested 5000 deep", "POST", "group", Json, Bytes(Nested(5000)), 400 },
        { "JSON: an object where a string goes", "POST", "group", Json, Bytes("{\"id\":{\"a\":1}}"), 400 },
        { "JSON: a boolean where a number goes", "POST", "group", Json, Bytes("{\"id\":\"web3\",\"mark\":true}"), 400 },
        { "form: body over 1 MiB", "POST", "group", Form, Bytes("id=web&comment=" + new string('x', 1100 * 1024)), 413 },
        { "form: body over 64 KiB", "POST", "group", Form, Bytes("id=web&comment=" + new string('x', 70 * 1024)), 413 },
        { "form: 1,025 fields", "POST", "group", Form, Bytes(string.Join("&", Enumerable.Range(0, 1025).Select(i => $"f{i}=1"))), 400 },
        { "form: a 2 KB field name", "POST", "group", Form, Bytes(new string('k', 2049) + "=1"), 400 },
        { "form: invalid UTF-8 escaped", "POST", "group", Form, Bytes("id=%C3%28"), 400 },
        { "form: lone surrogate escaped", "POST", "group", Form, Bytes("id=%ED%A0%80"), 400 },
        { "multipart: no boundary", "POST", "group", "multipart/form-data", Bytes("--x\r\n\r\n"), 400 },
        { "multipart: boundary over 70", "POST", "group", "multipart/form-data; boundary=" + new string('b', 71), Bytes("--b\r\n"), 400 },
        { "multipart: truncated", "POST", "group", "multipart/form-data; boundary=XYZ", Bytes("--XYZ\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nweb"), 400 },
        { "multipart: a file", "POST", "group", "multipart/form-data; boundary=XYZ",
            Bytes("--XYZ\r\nContent-Disposition: form-data; name=\"id\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nweb\r\n--XYZ--\r\n"), 400 },
        { "wrong content type", "POST", "group", "text/plain", Bytes("id=web"), 415 },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_request_is_a_4xx_with_a_message(string kind, string method, string path, string? contentType, byte[] body, int status)
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n");
        var before = File.ReadAllBytes(api.PendingPath);
        var r = await RawResponse.SendAsync(api, method, path, contentType, body);
        Assert.True(r.Status == status, $"{kind}: want {status}, got {r}");
        Assert.StartsWith("application/json", r.Headers.GetValueOrDefault("content-type"));
        Assert.False(string.IsNullOrWhiteSpace(r.Message), $"{kind}: no message: {r}");
        foreach (var leak in new[] { "Exception", "System.", "Microsoft.", "   at " })
            Assert.DoesNotContain(leak, r.Body);
        Assert.Equal(before, File.ReadAllBytes(api.PendingPath));
    }

    [Fact]
    public async Task A_malformed_chunked_body_is_a_400()
    {
        await using var api = await ApiHost.StartAsync();
        var head = $"POST /{ApiHost.Base}/group HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: PVEAPIToken={api.Admin}\r\n" +
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        var r = await RawResponse.SendAsync(api.Address, head, Encoding.ASCII.GetBytes("zz\r\n{}\r\n0\r\n\r\n"));
        Assert.Equal(400, r.Status);
        Assert.DoesNotContain("Exception", r.Body);
    }

    // ---- item: form bodies are capped like JSON; comments have a length cap -----------------

    [Fact]
    public async Task Form_bodies_are_capped_like_json_and_comments_at_4096_characters()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n");
        var before = File.ReadAllBytes(api.PendingPath);

        // A form of 100 KiB is refused before it is parsed, as a JSON body of that size is.
        var bigForm = await RawResponse.SendAsync(api, "PUT", "group/web", Form, Bytes("comment=" + new string('x', 100 * 1024)));
        Assert.True(bigForm.Status == 413, bigForm.ToString());
        Assert.Contains("65536", bigForm.Message);

        // Under the body cap, a comment over 4096 characters is a field error, in either encoding.
        var longComment = new string('c', 4097);
        var json = await api.Put("group/web", new { comment = longComment });
        Assert.Equal(HttpStatusCode.BadRequest, json.Status);
        Assert.Contains("4096", json.Error("comment"));
        var form = await RawResponse.SendAsync(api, "PUT", "group/web", Form, Bytes("comment=" + longComment));
        Assert.True(form.Status == 400, form.ToString());
        Assert.Contains("4096", form.Error("comment"));
        var rule = await api.Post("group", new { id = "db", comment = longComment });
        Assert.Contains("4096", rule.Error("comment"));
        // Characters, not bytes: 4096 two-byte characters are allowed, 4097 are not.
        var wide = await api.Put("group/web", new { comment = new string('é', 4097) });
        Assert.Contains("4096", wide.Error("comment"));
        Assert.Equal(before, File.ReadAllBytes(api.PendingPath));

        var atLimit = await api.Put("group/web", new { comment = new string('é', 4096) });
        Assert.Equal(HttpStatusCode.OK, atLimit.Status);
        Assert.Equal(4096, api.Store.ReadPending().Config.Groups["web"].Comment!.Length);
    }

    // ---- item: the message in the reason phrase ----------------------------------------------

    [Fact]
    public async Task The_error_message_is_the_reason_phrase_too_one_ascii_line_of_bounded_length()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n");

        var invalid = await RawResponse.SendAsync(api, "POST", "group", Json, Bytes("{\"id\":\"web2\",\"mark\":0}"));
        Assert.Equal(400, invalid.Status);
        Assert.StartsWith("invalid group: ", invalid.Reason);
        Assert.Equal(invalid.Message, invalid.Reason); // short and ASCII: the message itself

        var missing = await RawResponse.SendAsync(api, "GET", "group/nope", null, []);
        Assert.Equal(404, missing.Status);
        Assert.Equal(missing.Message, missing.Reason);

        var unauthenticated = await RawResponse.SendAsync(api, "GET", "group", null, [], token: "nobody@pam!x=wrong");
        Assert.Equal(401, unauthenticated.Status);
        Assert.StartsWith("authentication failed", unauthenticated.Reason);

        // Not ASCII, very long, several lines: the reason is one bounded ASCII line; the body keeps it all.
        var unicode = await RawResponse.SendAsync(api, "GET", "group/w%C3%A9b%E2%86%92x", null, []);
        Assert.Equal(404, unicode.Status);
        Assert.Contains("wéb→x", unicode.Message);
        var longName = new string('n', 3000);
        var huge = await RawResponse.SendAsync(api, "POST", "group", Json, Bytes($"{{\"id\":\"ok\",\"{longName}\":1,\"comment\":\"a\\nb\"}}"));
        Assert.Equal(400, huge.Status);
        Assert.Contains(longName, huge.Body);
        foreach (var r in new[] { invalid, missing, unauthenticated, unicode, huge })
        {
            Assert.InRange(r.Reason.Length, 1, 256);
            Assert.All(r.Reason, c => Assert.InRange(c, ' ', '~'));
        }

        // Success keeps the standard phrase.
        var ok = await RawResponse.SendAsync(api, "GET", "group", null, []);
        Assert.Equal((200, "OK"), (ok.Status, ok.Reason));

        // HttpClient (as clients that read only the status line do) sees it too.
        using var http = new HttpClient { BaseAddress = api.Address };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{ApiHost.Base}/group/nope");
        request.Headers.TryAddWithoutValidation("Authorization", $"PVEAPIToken={api.Admin}");
        using var response = await http.SendAsync(request);
        Assert.Contains("nope", response.ReasonPhrase);
    }
}
