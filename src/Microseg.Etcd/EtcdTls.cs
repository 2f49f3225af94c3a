// TLS to etcd as etcdctl does it: the members' certificates checked against a CA file
// (MICROSEG_ETCD_CACERT; the system's CAs when unset) and, when the cluster asks for client
// certificates, ours (MICROSEG_ETCD_CERT and MICROSEG_ETCD_KEY, PEM).
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Microseg.Etcd;

internal static class EtcdTls
{
    public static SslClientAuthenticationOptions ClientOptions(EtcdStoreOptions options)
    {
        var ssl = new SslClientAuthenticationOptions();
        if (options.Certificate is { } cert)
            ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(cert, options.Key)];
        if (options.CaCertificate is { } caFile)
        {
            var authority = new X509Certificate2Collection();
            authority.ImportFromPemFile(caFile);
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null) return false;
                // Names are checked as usual; only the chain is judged against the given CA.
                if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authority);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }
        return ssl;
    }
}
