// Where the etcd store is and how to reach it, from `--store etcd://HOST:PORT[,HOST:PORT...]`
// (or MICROSEG_STORE) and the etcd options as environment variables, with the names etcdctl
// gives them: a key prefix, TLS (CA, client certificate and key) and a user and password.
namespace Microseg.Etcd;

public sealed record EtcdStoreOptions(
    IReadOnlyList<string> Endpoints,
    string Prefix = EtcdStoreOptions.DefaultPrefix,
    string? CaCertificate = null,
    string? Certificate = null,
    string? Key = null,
    string? User = null,
    string? Password = null,
    int History = EtcdStoreOptions.DefaultHistory)
{
    public const string Scheme = "etcd://";
    public const string DefaultPrefix = "/microseg/";
    public const int DefaultHistory = 10;

    public bool Tls => CaCertificate is not null || Certificate is not null;

    /// <summary>The store as messages name it: "etcd://h1:2379,h2:2379/microseg/".</summary>
    public string Description => Scheme + string.Join(',', Endpoints) + Prefix;

    /// <summary>The connection string dotnet-etcd takes: "http://h1:2379,http://h2:2379".</summary>
    public string ConnectionString => string.Join(',', Endpoints.Select(e => (Tls ? "https://" : "http://") + e));

    public static bool IsEtcd(string store) => store.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>The options of <paramref name="store"/> ("etcd://h1:2379,h2:2379" with an
    /// optional "/prefix/" after the last endpoint) and the environment: MICROSEG_ETCD_PREFIX,
    /// MICROSEG_ETCD_CACERT, MICROSEG_ETCD_CERT, MICROSEG_ETCD_KEY, MICROSEG_ETCD_USER,
    /// MICROSEG_ETCD_PASSWORD (or MICROSEG_ETCD_PASSWORD_FILE), MICROSEG_ETCD_HISTORY. Errors
    /// are ArgumentExceptions that say what is wrong with which part.</summary>
    public static EtcdStoreOptions Parse(string store, Func<string, string?> environment)
    {
        if (!IsEtcd(store)) throw new ArgumentException($"store '{store}': not an etcd store (etcd://HOST:PORT[,HOST:PORT...])");
        var rest = store[Scheme.Length..];
        string? prefix = null;
        var slash = rest.IndexOf('/');
        if (slash >= 0)
        {
            prefix = rest[slash..];
            rest = rest[..slash];
        }
        var endpoints = new List<string>();
        foreach (var part in rest.Split(',', StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            if (part.Length == 0 || colon <= 0 || !int.TryParse(part[(colon + 1)..], out var port) || port is < 1 or > 65535)
                throw new ArgumentException($"store '{store}': '{part}' is not HOST:PORT (e.g. etcd://10.0.0.1:2379,10.0.0.2:2379)");
            endpoints.Add(part);
        }
        prefix = Env("MICROSEG_ETCD_PREFIX") ?? prefix ?? DefaultPrefix;
        if (!prefix.StartsWith('/')) prefix = "/" + prefix;
        if (!prefix.EndsWith('/')) prefix += "/";
        var history = DefaultHistory;
        if (Env("MICROSEG_ETCD_HISTORY") is { } h && (!int.TryParse(h, out history) || history < 1))
            throw new ArgumentException($"MICROSEG_ETCD_HISTORY={h}: the number of committed versions kept must be a whole number ≥ 1");
        var password = Env("MICROSEG_ETCD_PASSWORD");
        if (password is null && Env("MICROSEG_ETCD_PASSWORD_FILE") is { } file)
        {
            try { password = File.ReadAllText(file).TrimEnd('\r', '\n'); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"MICROSEG_ETCD_PASSWORD_FILE={file}: {e.Message}");
            }
        }
        var user = Env("MICROSEG_ETCD_USER");
        if (user is not null && password is null)
            throw new ArgumentException($"MICROSEG_ETCD_USER={user} needs MICROSEG_ETCD_PASSWORD or MICROSEG_ETCD_PASSWORD_FILE");
        var (cert, key) = (Env("MICROSEG_ETCD_CERT"), Env("MICROSEG_ETCD_KEY"));
        if ((cert is null) != (key is null))
            throw new ArgumentException("MICROSEG_ETCD_CERT and MICROSEG_ETCD_KEY go together (a client certificate and its key)");
        return new EtcdStoreOptions(endpoints, prefix, Env("MICROSEG_ETCD_CACERT"), cert, key, user, password, history);

        string? Env(string name) => environment(name) is { Length: > 0 } v ? v : null;
    }
}
