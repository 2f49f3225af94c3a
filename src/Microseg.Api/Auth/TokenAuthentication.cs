// `Authorization: PVEAPIToken=USER@REALM!NAME=SECRET`, as Proxmox's API takes it.
namespace Microseg.Api.Auth;

public static class TokenAuthentication
{
    public const string Scheme = "PVEAPIToken";

    /// <summary>Splits the header into token id and secret; false when it is not of that form.</summary>
    public static bool TryParse(string? header, out string id, out string secret)
    {
        id = secret = "";
        if (header is null || !header.StartsWith(Scheme + "=", StringComparison.Ordinal)) return false;
        var value = header.AsSpan(Scheme.Length + 1).Trim();
        // The id contains '!' and no '='; the secret follows the first '=' after the '!'.
        var bang = value.IndexOf('!');
        if (bang < 0) return false;
        var eq = value[bang..].IndexOf('=');
        if (eq < 0) return false;
        id = value[..(bang + eq)].ToString();
        secret = value[(bang + eq + 1)..].ToString();
        return id.Length > 0 && secret.Length > 0;
    }
}
