// API tokens (USER@REALM!NAME, as Proxmox names them): issued, listed, removed and verified
// here, kept by the config store (CONFIG_DIR/api-tokens.json, mode 0600, for the directory
// store). Only a salted SHA-256 of each secret is stored: the secret is 128 random bits, so a
// slow password hash would add nothing but per-request cost.
using System.Security.Cryptography;
using System.Text;
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

public sealed partial class TokenStore(IConfigStore store)
{
    // Constant-time checks still need something to compare an unknown token id against.
    private static readonly byte[] DummySalt = RandomNumberGenerator.GetBytes(16);
    private static readonly byte[] DummyHash = RandomNumberGenerator.GetBytes(32);

    /// <summary>Where the tokens are kept, as messages name it (the file, for the directory store).</summary>
    public string Path => store.TokensLocation;

    private readonly object cacheLock = new();
    private (IReadOnlyList<StoredToken> Stored, IReadOnlyDictionary<string, ApiToken> Tokens)? cache;

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
        Edit(stored =>
        {
            if (stored.Any(t => t.Id == id)) throw new TokenStoreException($"token '{id}' already exists (delete it first to issue a new secret)");
            var names = new ValueList<string>(privileges.Order().Select(p => p.Name()));
            return [.. stored, new StoredToken(id, names, DateTimeOffset.UtcNow, comment, salt, HashOf(salt, secret))];
        });
        return secret;
    }

    /// <summary>Removes a token; false when there was none.</summary>
    public bool Remove(string id)
    {
        var removed = false;
        Edit(stored =>
        {
            removed = stored.Any(t => t.Id == id);
            return removed ? [.. stored.Where(t => t.Id != id)] : null;
        });
        return removed;
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

    /// <summary>The tokens as the store holds them now, converted again only when the store
    /// hands out other records, so that `microseg token add|del` takes effect on a running server.</summary>
    private IReadOnlyDictionary<string, ApiToken> Current()
    {
        var stored = Read(store.ReadTokens);
        lock (cacheLock)
        {
            if (cache is { } c && ReferenceEquals(c.Stored, stored)) return c.Tokens;
            var tokens = stored.Select(ToApiToken).ToDictionary(t => t.Id, StringComparer.Ordinal);
            cache = (stored, tokens);
            return tokens;
        }
    }

    private ApiToken ToApiToken(StoredToken t)
    {
        try
        {
            return new ApiToken(t.Id, Privileges.Parse(string.Join(',', t.Privileges)), t.Created, t.Comment, t.Salt, t.Sha256);
        }
        catch (TokenStoreException e)
        {
            throw new TokenStoreException($"{store.TokensLocation}: unreadable token file: {e.Message}");
        }
    }

    /// <summary>An edit of records that are all readable (an unreadable file is not overwritten).</summary>
    private void Edit(Func<IReadOnlyList<StoredToken>, IReadOnlyList<StoredToken>?> edit) =>
        Read(() =>
        {
            store.EditTokens(stored =>
            {
                foreach (var t in stored) ToApiToken(t);
                return edit(stored);
            });
            return true;
        });

    /// <summary>A store that cannot read its token records says so in the user's words.</summary>
    private static T Read<T>(Func<T> read)
    {
        try { return read(); }
        catch (ConfigException e) { throw new TokenStoreException(e.Message); }
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
}
