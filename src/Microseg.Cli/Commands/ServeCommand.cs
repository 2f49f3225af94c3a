// `microseg serve`: the REST API and web UI (SPEC §9). Runs until SIGTERM or Ctrl-C.
using System.CommandLine;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microseg.Agent;
using Microseg.Api;
using Microseg.Api.Hosting;
using Microsoft.Extensions.Logging;

namespace Microseg.Cli.Commands;

public sealed class ServeCommand : Command
{
    private static readonly Option<string> Listen = new("--listen")
    {
        Description = $"ADDRESS:PORT to listen on (default {ListenAddress.Default}; port 0: any free port). Beyond loopback it needs TLS or --insecure-http",
        DefaultValueFactory = _ => ListenAddress.Default,
    };

    private static readonly Option<bool> InsecureHttp = new("--insecure-http")
    {
        Description = "Allow plain HTTP on an address beyond loopback (tokens and config cross the network unencrypted)",
    };

    private static readonly Option<string?> TlsCert = new("--tls-cert") { Description = "Serve HTTPS with this PEM certificate (needs --tls-key)" };
    private static readonly Option<string?> TlsKey = new("--tls-key") { Description = "PEM private key of --tls-cert" };
    private static readonly Option<bool> TlsSelfSigned = new("--tls-self-signed")
    {
        Description = "Serve HTTPS with a self-signed certificate kept in CONFIG_DIR/api-tls.pem (made on first use)",
    };

    public ServeCommand(Io io) : base("serve", "Serve the REST API and the web UI over the pending config; commit applies on this host")
    {
        Options.Add(Listen);
        Options.Add(TlsCert);
        Options.Add(TlsKey);
        Options.Add(TlsSelfSigned);
        Options.Add(InsecureHttp);
        AgentOptionSet.AddTo(this);
        SetAction(parse => Run(parse, io));
    }

    // Not inlined into the constructor: building the command tree must not load ASP.NET (the
    // plug path's start-up is measured in milliseconds). Constants such as ListenAddress.Default
    // are compiled in and load nothing.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Run(ParseResult parse, Io io)
    {
        var configDir = Path.GetFullPath(parse.GetValue(MicrosegRootCommand.ConfigDir)!);
        var listen = ListenAddress.Parse(parse.GetValue(Listen)!);
        var beyondLoopback = !System.Net.IPAddress.IsLoopback(listen.Address);
        var insecure = parse.GetValue(InsecureHttp);
        var tlsGiven = parse.GetValue(TlsCert) is not null || parse.GetValue(TlsKey) is not null || parse.GetValue(TlsSelfSigned);
        if (beyondLoopback && !tlsGiven && !insecure)
            throw new UserException($"--listen {parse.GetValue(Listen)} reaches beyond loopback: serve it with TLS (--tls-cert/--tls-key or --tls-self-signed), or give --insecure-http to send tokens and config in plain HTTP");
        var cert = Certificate(parse, configDir, listen.Address);
        var options = new ApiServerOptions(
            configDir, listen,
            AgentOptionSet.Options(parse),
            parse.GetValue(MicrosegRootCommand.RunningConfig),
            cert,
            parse.GetValue(AgentOptionSet.Verbose) ? LogLevel.Debug : LogLevel.Warning,
            MicrosegRootCommand.Store(parse));
        ApiServer server;
        try
        {
            server = ApiServer.StartAsync(options).GetAwaiter().GetResult();
        }
        catch (IOException e)
        {
            var why = e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException
                ? "address already in use (another program listens there; choose another with --listen)"
                : (e.InnerException ?? e).Message;
            throw new UserException($"cannot listen on {parse.GetValue(Listen)}: {why}");
        }
        try
        {
            // The addresses as bound: 0.0.0.0 is every IPv4 address of this host, not loopback.
            io.Out.WriteLine($"microseg: serving {string.Join(", ", server.Listening)} (config {configDir}, tokens {server.Tokens.Path})");
            if (cert is not null) io.Out.WriteLine($"microseg: TLS certificate SHA-256 {cert.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)}");
            io.Out.Flush();
            if (beyondLoopback && cert is null)
                io.Err.WriteLine($"microseg: warning: serving plain HTTP beyond loopback (--insecure-http): tokens and config cross the network unencrypted");
            server.WaitForShutdownAsync().GetAwaiter().GetResult();
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return ExitCodes.Ok;
    }

    private static X509Certificate2? Certificate(ParseResult parse, string configDir, System.Net.IPAddress listen)
    {
        var cert = parse.GetValue(TlsCert);
        var key = parse.GetValue(TlsKey);
        var selfSigned = parse.GetValue(TlsSelfSigned);
        if (selfSigned && (cert is not null || key is not null))
            throw new UserException("give either --tls-cert/--tls-key or --tls-self-signed, not both");
        if ((cert is null) != (key is null))
            throw new UserException("--tls-cert and --tls-key go together");
        if (cert is not null) return TlsCertificates.Load(cert, key!);
        return selfSigned ? TlsCertificates.SelfSigned(configDir, listen) : null;
    }
}
