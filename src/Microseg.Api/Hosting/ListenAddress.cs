// `--listen ADDRESS:PORT`: 127.0.0.1:8007, [::1]:8007, 0.0.0.0:8007, localhost:8007; port 0
// picks a free port (the server says which).
using System.Globalization;
using System.Net;

namespace Microseg.Api.Hosting;

public static class ListenAddress
{
    public const string Default = "127.0.0.1:8007";

    public static IPEndPoint Parse(string text)
    {
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) &&
            ushort.TryParse(text.AsSpan("localhost:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            return new IPEndPoint(IPAddress.Loopback, port);
        if (IPEndPoint.TryParse(text, out var endpoint) && text.Contains(':') && (endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || text.StartsWith('[')))
            return endpoint;
        throw new ArgumentException($"--listen '{text}' is not ADDRESS:PORT (e.g. {Default}, [::1]:8007, 0.0.0.0:8007)");
    }
}
