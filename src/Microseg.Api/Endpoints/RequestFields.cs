// The parameters of one request: a JSON object body (or a form, as Proxmox clients send) plus
// the query string. Typed getters collect per-field errors instead of failing at the first.
using System.Globalization;
using System.Text.Json;
using Microseg.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Microseg.Api.Endpoints;

internal sealed class RequestFields
{
    /// <summary>The largest request body, JSON or form: parameters of a few objects, not a file.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The longest comment, in characters, as Proxmox's comment fields (maxLength 4096).</summary>
    public const int MaxCommentLength = 4096;

    private readonly Dictionary<string, JsonElement> json = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> text = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, string> errors = new(StringComparer.Ordinal);

    private RequestFields() { }

    public static async Task<RequestFields> ReadAsync(HttpRequest request, CancellationToken cancel)
    {
        var fields = new RequestFields();
        foreach (var (key, value) in request.Query) fields.text[key] = value.ToString();
        // The framework throws on what a client sent (a body over the limit, a bad chunk, a form
        // over the reader's limits, a multipart body cut short): each is the client's error.
        try
        {
            if (request.HasFormContentType)
            {
                var form = await request.ReadFormAsync(FormLimits, cancel);
                foreach (var (key, value) in form) fields.text[key] = value.ToString();
                foreach (var file in form.Files) fields.Error(file.Name, "is a file: this API takes no uploads");
                return fields;
            }
            var body = await ReadBodyAsync(request, cancel);
            if (body.Length == 0) return fields;
            if (request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
                throw new ApiException(415, $"unsupported content type '{Text.Clip(type)}': send application/json (or a form)");
            fields.ReadJson(body);
            return fields;
        }
        catch (BadHttpRequestException e)
        {
            throw new ApiException(e.StatusCode, $"bad request body: {e.Message}");
        }
        catch (InvalidDataException e)
        {
            throw new ApiException(400, $"invalid form: {e.Message}");
        }
        catch (IOException) when (!cancel.IsCancellationRequested && request.HasFormContentType)
        {
            throw new ApiException(400, "invalid form: the multipart body is malformed or ends early");
        }
    }

    // As ASP.NET's defaults for names and counts, but no body beyond what JSON may have.
    private static readonly FormOptions FormLimits = new()
    {
        BufferBodyLengthLimit = MaxBodyBytes,
        MultipartBodyLengthLimit = MaxBodyBytes,
        ValueLengthLimit = MaxBodyBytes,
        ValueCountLimit = 1024,
        KeyLengthLimit = 2048,
    };

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancel)
    {
        if (request.ContentLength > MaxBodyBytes) throw TooLarge();
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int n;
        while ((n = await request.Body.ReadAsync(chunk, cancel)) > 0)
        {
            if (buffer.Length + n > MaxBodyBytes) throw TooLarge();
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    private static ApiException TooLarge() => new(413, $"request body is larger than {MaxBodyBytes} bytes");

    private void ReadJson(byte[] body)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new ApiException(400, $"request body is not valid JSON: {e.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ApiException(400, "request body must be a JSON object of parameters");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                // The parser checks structure, not text: invalid UTF-8 and lone surrogates show
                // only when a string is read. Read every one now, while the error is the body's.
                string name;
                try { name = p.Name; }
                catch (InvalidOperationException) { throw new ApiException(400, "request body is not valid JSON: a parameter name is not valid Unicode text"); }
                if (!IsText(p.Value)) throw ApiException.Invalid(name, "is not valid Unicode text (invalid UTF-8 or a lone surrogate)");
                if (p.Value.ValueKind == JsonValueKind.Null) continue; // null = not given
                json[name] = p.Value.Clone();
                text.Remove(name);
            }
        }
    }

    private static bool IsText(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                try { e.GetString(); return true; }
                catch (InvalidOperationException) { return false; }
            case JsonValueKind.Array:
                return e.EnumerateArray().All(IsText);
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    try { _ = p.Name; }
                    catch (InvalidOperationException) { return false; }
                    if (!IsText(p.Value)) return false;
                }
                return true;
            default:
                return true;
        }
    }

    public IEnumerable<string> Names => json.Keys.Concat(text.Keys).Distinct();

    public bool Has(string name) => json.ContainsKey(name) || text.ContainsKey(name);

    public void Error(string field, string message)
    {
        errors[field] = errors.TryGetValue(field, out var earlier) ? $"{earlier}; {message}" : message;
    }

    /// <summary>Refuses parameters this request does not take (a typo must not be ignored).</summary>
    public void RejectUnknown(IEnumerable<string> allowed)
    {
        var set = allowed.ToHashSet(StringComparer.Ordinal);
        foreach (var name in Names.Where(n => !set.Contains(n)))
            Error(name, $"unknown parameter (this request takes {string.Join(", ", set.Order(StringComparer.Ordinal))})");
    }

    public void ThrowIfErrors(string what)
    {
        if (errors.Count > 0)
            throw ApiException.Invalid($"{what}: " + string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value}")), errors);
    }

    public string? String(string name, bool required = false)
    {
        if (json.TryGetValue(name, out var j))
        {
            if (j.ValueKind == JsonValueKind.String) return j.GetString();
            if (j.ValueKind == JsonValueKind.Number) return j.GetRawText();
            Error(name, "must be a string");
            return null;
        }
        if (text.TryGetValue(name, out var t)) return t;
        if (required) Error(name, "is required");
        return null;
    }

    public long? Integer(string name, bool required = false)
    {
        if (json.TryGetValue(name, out var j) && j.ValueKind == JsonValueKind.Number)
        {
            if (j.TryGetInt64(out var n)) return n;
            Error(name, "must be a whole number");
            return null;
        }
        var s = String(name, required);
        if (s is null) return null;
        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed)) return parsed;
        Error(name, $"'{Text.Clip(s)}' is not a whole number");
        return null;
    }

    /// <summary>A list of names: a JSON array of strings or a comma list ("a,b").</summary>
    public ValueList<string>? List(string name, bool required = false)
    {
        if (json.TryGetValue(name, out var j) && j.ValueKind == JsonValueKind.Array)
        {
            if (j.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String && x.GetString()!.Trim().Length > 0))
                return new ValueList<string>(j.EnumerateArray().Select(x => x.GetString()!.Trim()));
            Error(name, "must be a list of names");
            return null;
        }
        var s = String(name, required);
        if (s is null) return null;
        if (s.Trim().Length == 0) return ValueList<string>.Empty;
        if (SectionConfig.TryParseList(s, out var items)) return items;
        Error(name, $"'{Text.Clip(s)}' has an empty item");
        return null;
    }

    /// <summary>A one-line comment of at most <see cref="MaxCommentLength"/> characters:
    /// trimmed; empty means none.</summary>
    public string? Comment(string name = "comment")
    {
        var s = String(name);
        if (s is null) return null;
        if (s.Any(char.IsControl)) { Error(name, "must be one line of text"); return null; }
        if (s.Length > MaxCommentLength && s.EnumerateRunes().Count() > MaxCommentLength)
        {
            Error(name, $"may only be {MaxCommentLength} characters long (this is {s.EnumerateRunes().Count()})");
            return null;
        }
        return s.Trim() is { Length: > 0 } trimmed ? trimmed : null;
    }

    /// <summary>A boolean as Proxmox parses one (pve-common's parse_boolean): 1, on, yes, true
    /// or 0, off, no, false in any case; JSON true, false, 1 and 0.</summary>
    public bool? Boolean(string name)
    {
        if (json.TryGetValue(name, out var j))
        {
            if (j.ValueKind is JsonValueKind.True or JsonValueKind.False) return j.GetBoolean();
            if (j.ValueKind != JsonValueKind.String && j.ValueKind != JsonValueKind.Number)
            {
                Error(name, "must be a boolean (1|on|yes|true or 0|off|no|false)");
                return null;
            }
        }
        var s = String(name);
        if (s is null) return null;
        switch (s.ToLowerInvariant())
        {
            case "1" or "on" or "yes" or "true": return true;
            case "0" or "off" or "no" or "false": return false;
            default:
                Error(name, $"'{Text.Clip(s)}' is not a boolean (1|on|yes|true or 0|off|no|false)");
                return null;
        }
    }

    /// <summary>Proxmox's `delete`: the properties to remove, as a list split the way Proxmox
    /// splits one (pve-common's split_list: commas, semicolons and whitespace; NULs when there
    /// are any) or a JSON array. Setting and deleting one property in one request is refused,
    /// as Proxmox's SectionConfig refuses it.</summary>
    public IReadOnlySet<string> Deletes(IEnumerable<string> deletable)
    {
        var deletes = new HashSet<string>(StringComparer.Ordinal);
        if (!Has("delete")) return deletes;
        if (json.TryGetValue("delete", out var j) && j.ValueKind == JsonValueKind.Array)
        {
            if (!j.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String))
            {
                Error("delete", "must be a list of property names");
                return deletes;
            }
            foreach (var item in j.EnumerateArray()) deletes.UnionWith(SplitList(item.GetString()!));
        }
        else if (String("delete") is { } s)
        {
            deletes.UnionWith(SplitList(s));
        }
        var allowed = deletable.ToHashSet(StringComparer.Ordinal);
        foreach (var d in deletes.Order(StringComparer.Ordinal))
        {
            if (!allowed.Contains(d))
                Error("delete", allowed.Count == 0
                    ? $"'{Text.Clip(d)}' cannot be deleted (nothing of this type can)"
                    : $"'{Text.Clip(d)}' cannot be deleted (deletable: {string.Join(", ", allowed.Order(StringComparer.Ordinal))})");
            else if (Has(d))
                Error("delete", $"cannot set and delete property '{d}' at the same time");
        }
        return deletes;
    }

    private static readonly char[] ListSeparators = [',', ';', ' ', '\t', '\n', '\r', '\f', '\v'];

    /// <summary>pve-common's split_list.</summary>
    private static string[] SplitList(string s) =>
        s.Contains('\0')
            ? s.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            : s.Split(ListSeparators, StringSplitOptions.RemoveEmptyEntries);
}
