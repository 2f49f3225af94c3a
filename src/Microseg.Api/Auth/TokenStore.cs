// API tokens (USER@REALM!NAME, as Proxmox names them) kept in CONFIG_DIR/api-tokens.json, mode
// 0600. Only a salted SHA-256 of each secret is stored: the secret is 128 random bits, so a
// slow password hash would add nothing but per-request cost.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

using Microseg.Policy;

namespace Microseg.Api.Auth;

public enum Privilege { Audit, Allocate }

public static class Privileges
{
    public const string AuditName = "SDN.Audit", AllocateName = "SDN.Allocate";

    public static string Name(this Privilege p) => p == Privilege.Audit ? AuditName : AllocateName;

    /// <summary>Parses "SDN.Audit,SDN.Allocate"; an unknown name is an error naming it.</summary>
    public static IReadOnlySet<Privilege> Parse(string text)
    {
        var set = new HashSet<Privilege>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            set.Add(part switch
            {
                AuditName => Privilege.Audit,
                AllocateName => Privilege.Allocate,
                _ => throw new TokenStoreException($"unknown privilege '{part}' (expected {AuditName} and/or {AllocateName})"),
            });
        }
        return set;
    }

    public static string Format(IEnumerable<Privilege> privileges) =>
        string.Join(',', privileges.Order().Select(Name));
}

/// <summary>One token as stored: never the secret, only its salted hash.</summary>
public sealed record ApiToken(string Id, IReadOnlySet<Privilege> Privileges, DateTimeOffset Created, string? Comment, byte[] Salt, byte[] Hash)
{
    public bool Has(Privilege p) => Privileges.Contains(p);
}

/// <summary>A token operation that cannot be done, with a message for the user.</summary>
public sealed class TokenStoreException(string message) : Exception(message);

public sealed partial class TokenStore
{
    public const string FileName = "api-tokens.json";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(10);

    // Constant-time checks still need something to compare an unknown token id against.
    private static readonly byte[] DummySalt = RandomNumberGenerator.GetBytes(16);
    private static readonly byte[] DummyHash = RandomNumberGenerator.GetBytes(32);

    private readonly object cacheLock = new();
    private (DateTime WriteTime, long Length, IReadOnlyDictionary<string, ApiToken> Tokens)? cache;

    public TokenStore(string configDirectory)
    {
        Directory = configDirectory;
        Path = System.IO.Path.Combine(configDirectory, FileName);
    }

    public string Directory { get; }
    public string Path { get; }

    // Proxmox: user@realm, then '!' and the token name.
    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}@[A-Za-z][A-Za-z0-9._-]{0,31}![A-Za-z][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex TokenIdRegex();

    public static string? TokenIdProblem(string id) =>
        TokenIdRegex().IsMatch(id) ? null
        : $"invalid token id '{(id.Length > 80 ? id[..80] + "…" : id)}' (expected USER@REALM!NAME, e.g. root@pam!ui)";

    /// <summary>Adds a token and returns its secret, which is not stored and cannot be shown again.</summary>
    public string Add(string id, IReadOnlySet<Privilege> privileges, string? comment = null)
    {
        if (TokenIdProblem(id) is { } problem) throw new TokenStoreException(problem);
        if (privileges.Count == 0) throw new TokenStoreException("a token needs at least one privilege");
        if (comment is not null && comment.Any(char.IsControl)) throw new TokenStoreException("a comment must be one line of text");
        var secret = NewSecret();
        var salt = RandomNumberGenerator.GetBytes(16);
        using var _ = Lock();
        var tokens = Load().ToDictionary(t => t.Id, StringComparer.Ordinal);
        if (tokens.ContainsKey(id)) throw new TokenStoreException($"token '{id}' already exists (delete it first to issue a new secret)");
        tokens[id] = new ApiToken(id, privileges, DateTimeOffset.UtcNow, comment, salt, HashOf(salt, secret));
        Save(tokens.Values);
        return secret;
    }

    /// <summary>Removes a token; false when there was none.</summary>
    public bool Remove(string id)
    {
        using var _ = Lock();
        var tokens = Load().ToDictionary(t => t.Id, StringComparer.Ordinal);
        if (!tokens.Remove(id)) return false;
        Save(tokens.Values);
        return true;
    }

    public IReadOnlyList<ApiToken> List() => [.. Current().Values.OrderBy(t => t.Id, StringComparer.Ordinal)];

    /// <summary>The token this id and secret prove, or null. Takes the same time whether the id
    /// is unknown or the secret wrong, and compares hashes in constant time.</summary>
    public ApiToken? Verify(string id, string secret)
    {
        var token = Current().GetValueOrDefault(id);
        var hash = HashOf(token?.Salt ?? DummySalt, secret);
        var match = CryptographicOperations.FixedTimeEquals(hash, token?.Hash ?? DummyHash);
        return match && token is not null ? token : null;
    }

    /// <summary>The tokens as the file holds them now; re-read only when the file changed, so
    /// that `microseg token add|del` takes effect on a running server.</summary>
    private IReadOnlyDictionary<string, ApiToken> Current()
    {
        var info = new FileInfo(Path);
        var stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1L);
        lock (cacheLock)
        {
            if (cache is { } c && c.WriteTime == stamp.Item1 && c.Length == stamp.Item2) return c.Tokens;
            var tokens = Load().ToDictionary(t => t.Id, StringComparer.Ordinal);
            cache = (stamp.Item1, stamp.Item2, tokens);
            return tokens;
        }
    }

    private static string NewSecret()
    {
        // A version-4 UUID from the system CSPRNG, the form Proxmox gives its token secrets.
        var bytes = RandomNumberGenerator.GetBytes(16);
        bytes[6] = (byte)((bytes[6] & 0x0f) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3f) | 0x80);
        var hex = Convert.ToHexStringLower(bytes);
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    private static byte[] HashOf(byte[] salt, string secret)
    {
        var secretBytes = Encoding.UTF8.GetBytes(secret);
        var input = new byte[salt.Length + secretBytes.Length];
        salt.CopyTo(input, 0);
        secretBytes.CopyTo(input, salt.Length);
        return SHA256.HashData(input);
    }

    private List<ApiToken> Load()
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(Path); }
        catch (FileNotFoundException) { return []; }
        catch (DirectoryNotFoundException) { return []; }
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            var list = new List<ApiToken>();
            foreach (var t in doc.RootElement.GetProperty("tokens").EnumerateArray())
            {
                var comment = t.TryGetProperty("comment", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                list.Add(new ApiToken(
                    t.GetProperty("id").GetString()!,
                    Privileges.Parse(string.Join(',', t.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()))),
                    t.GetProperty("created").GetDateTimeOffset(),
                    comment,
                    Convert.FromBase64String(t.GetProperty("salt").GetString()!),
                    Convert.FromBase64String(t.GetProperty("sha256").GetString()!)));
            }
            return list;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or TokenStoreException)
        {
            throw new TokenStoreException($"{Path}: unreadable token file: {e.Message}");
        }
    }

    private void Save(IEnumerable<ApiToken> tokens)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            foreach (var t in tokens.OrderBy(t => t.Id, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                w.WriteString("id", t.Id);
                w.WriteStartArray("privileges");
                foreach (var p in t.Privileges.Order()) w.WriteStringValue(p.Name());
                w.WriteEndArray();
                w.WriteString("created", t.Created);
                if (t.Comment is not null) w.WriteString("comment", t.Comment);
                w.WriteString("salt", Convert.ToBase64String(t.Salt));
                w.WriteString("sha256", Convert.ToBase64String(t.Hash));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        AtomicFile.Write(Path, buffer.ToArray(), AtomicFile.OwnerOnly);
    }

    private IDisposable Lock() => FileLock.Exclusive(System.IO.Path.Combine(Directory, ".api-tokens.lock"), LockTimeout);
}
