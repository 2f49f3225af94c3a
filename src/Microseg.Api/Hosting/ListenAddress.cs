// `--listen ADDRESS:PORT`: 127.0.0.1:8017, [::1]:8017, 0.0.0.0:8017, localhost:8017; port 0
// picks a free port (the server says which). The default port, 8017, is one no Proxmox service
// uses (8006 is Proxmox VE's and Mail Gateway's API, 8007 Proxmox Backup Server's, 8443 Proxmox
// Datacenter Manager's, 3128 the SPICE proxy's, 85 pvedaemon's).
using System.Globalization;
using System.Net;

namespace Microseg.Api.Hosting;

public static class ListenAddress
{
    public const string Default = "127.0.0.1:8017";

    public static IPEndPoint Parse(string text)
    {
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) &&
            ushort.TryParse(text.AsSpan("localhost:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            return new IPEndPoint(IPAddress.Loopback, port);
        if (IPEndPoint.TryParse(text, out var endpoint) && text.Contains(':') && (endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || text.StartsWith('[')))
            return endpoint;
        throw new ArgumentException($"--listen '{text}' is not ADDRESS:PORT (e.g. {Default}, [::1]:8017, 0.0.0.0:8017)");
    }
}
