// The server's TLS certificate: one the operator gives (PEM certificate and key), or a
// self-signed one made once and kept in the config directory, so that clients can pin it
// (`curl --cacert CONFIG_DIR/api-tls.pem`) across restarts.
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microseg.Policy;

namespace Microseg.Api.Hosting;

public static class TlsCertificates
{
    public const string SelfSignedCertFile = "api-tls.pem", SelfSignedKeyFile = "api-tls.key";

    public static X509Certificate2 Load(string certPath, string keyPath)
    {
        try { return X509Certificate2.CreateFromPemFile(certPath, keyPath); }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ArgumentException($"load TLS certificate {certPath} with key {keyPath}: {OneLine(e.Message)}");
        }
    }

    private static string OneLine(string message) => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();

    /// <summary>The self-signed certificate in <paramref name="configDirectory"/>, made now if
    /// it is missing or expires within a week. Valid for localhost, this host's name and the
    /// listen address.</summary>
    public static X509Certificate2 SelfSigned(string configDirectory, IPAddress listen)
    {
        var certPath = Path.Combine(configDirectory, SelfSignedCertFile);
        var keyPath = Path.Combine(configDirectory, SelfSignedKeyFile);
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            var existing = Load(certPath, keyPath);
            if (existing.NotAfter > DateTime.Now.AddDays(7)) return existing;
            existing.Dispose();
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=microseg {Environment.MachineName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddDnsName(Environment.MachineName);
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        if (!listen.Equals(IPAddress.Any) && !listen.Equals(IPAddress.IPv6Any) && !IPAddress.IsLoopback(listen)) names.AddIpAddress(listen);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(2));

        AtomicFile.Write(keyPath, Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem()), AtomicFile.OwnerOnly);
        AtomicFile.Write(certPath, Encoding.ASCII.GetBytes(cert.ExportCertificatePem() + "\n"));
        return Load(certPath, keyPath);
    }
}
