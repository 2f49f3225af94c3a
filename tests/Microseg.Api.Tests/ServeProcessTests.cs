// `microseg serve` as the operator runs it: its own process, plain HTTP and HTTPS with the
// self-signed certificate it keeps in the config directory; stopped by SIGTERM.
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microseg.Api.Auth;
using Microseg.Policy;
using Microseg.Api.Hosting;
using Microseg.TestSupport;

namespace Microseg.Api.Tests;

/// <summary>A `microseg serve` child process; killed on dispose whatever happened.</summary>
public sealed class ServeProcess : IDisposable
{
    private readonly Process process;
    private readonly List<string> stderr = [];

    public ServeProcess(string configDir, params string[] args)
    {
        // The CLI built beside this test (project reference): the same code `make build` publishes.
        var dll = Path.Combine(AppContext.BaseDirectory, "microseg.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])[dll, "serve", "--listen", "127.0.0.1:0", "--config-dir", configDir, .. args]) info.ArgumentList.Add(a);
        process = Process.Start(info)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Add(e.Data); };
        process.BeginErrorReadLine();
        var first = process.StandardOutput.ReadLineAsync();
        if (!first.Wait(TimeSpan.FromSeconds(30)) || first.Result is not { } line)
        {
            Dispose();
            throw new InvalidOperationException($"microseg serve printed nothing: {Stderr}");
        }
        FirstLine = line;
        Address = new Uri(line.Split(' ')[2]);
        Output = process.StandardOutput;
    }

    public string FirstLine { get; }
    public Uri Address { get; }
    public StreamReader Output { get; }
    public Process Process => process;

    public string Stderr { get { lock (stderr) return string.Join("\n", stderr); } }

    /// <summary>SIGTERM, as systemd stops it; true when it exited by itself within the timeout.</summary>
    public bool Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        return process.WaitForExit(timeout);
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
    }
}

public sealed class ServeProcessTests
{
    [Fact]
    public async Task Serve_answers_over_http_and_stops_on_sigterm()
    {
        using var dir = new TempDirectory();
        var secret = new TokenStore(new DirectoryConfigStore(dir.Path)).Add("root@pam!t", new HashSet<Privilege> { Privilege.Audit, Privilege.Allocate });
        using var serve = new ServeProcess(dir.Path);
        Assert.Matches(@"^microseg: serving http://127\.0\.0\.1:\d+/ \(config ", serve.FirstLine);

        using var http = new HttpClient { BaseAddress = serve.Address };
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"PVEAPIToken=root@pam!t={secret}");
        using var created = await http.PostAsync($"{ApiHost.Base}/group", new StringContent("{\"id\":\"web\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Contains("\"id\":\"web\"", await created.Content.ReadAsStringAsync());
        Assert.Contains("group: web", File.ReadAllText(Path.Combine(dir.Path, "microseg.cfg")));

        Assert.True(serve.Terminate(TimeSpan.FromSeconds(15)), "serve did not stop on SIGTERM: " + serve.Stderr);
        Assert.Equal(0, serve.Process.ExitCode);
    }

    [Fact]
    public async Task Serve_with_a_self_signed_certificate_keeps_it_for_the_next_start()
    {
        using var dir = new TempDirectory();
        var secret = new TokenStore(new DirectoryConfigStore(dir.Path)).Add("root@pam!t", new HashSet<Privilege> { Privilege.Audit });
        string firstHash;
        using (var serve = new ServeProcess(dir.Path, "--tls-self-signed"))
        {
            Assert.Equal("https", serve.Address.Scheme);
            var hashLine = await serve.Output.ReadLineAsync();
            Assert.StartsWith("microseg: TLS certificate SHA-256 ", hashLine);
            firstHash = hashLine!.Split(' ').Last();

            var certFile = Path.Combine(dir.Path, TlsCertificates.SelfSignedCertFile);
            var keyFile = Path.Combine(dir.Path, TlsCertificates.SelfSignedKeyFile);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            using var pinned = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
            Assert.Equal(firstHash, pinned.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256));

            // A client that trusts exactly that certificate (curl --cacert does the same).
            using var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert is not null && cert.RawData.AsSpan().SequenceEqual(pinned.RawData),
            };
            using var http = new HttpClient(handler) { BaseAddress = serve.Address };
            http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"PVEAPIToken=root@pam!t={secret}");
            using var status = await http.GetAsync($"{ApiHost.Base}/status");
            Assert.Equal(HttpStatusCode.OK, status.StatusCode);

            // Without trusting it, TLS fails: the certificate is not from a public CA.
            using var strict = new HttpClient { BaseAddress = serve.Address };
            await Assert.ThrowsAsync<HttpRequestException>(() => strict.GetAsync($"{ApiHost.Base}/status"));
        }
        using (var again = new ServeProcess(dir.Path, "--tls-self-signed"))
        {
            Assert.EndsWith(firstHash, await again.Output.ReadLineAsync());
        }
    }

    [Fact]
    public void Serve_refuses_a_bad_listen_address_and_half_a_certificate()
    {
        using var dir = new TempDirectory();
        foreach (var (args, message) in new[]
        {
            (new[] { "--listen", "nowhere" }, "is not ADDRESS:PORT"),
            (new[] { "--tls-cert", "/nonexistent.pem" }, "--tls-cert and --tls-key go together"),
        })
        {
            var (exit, _, stderr) = MicrosegCli.Run(dir.Path, ["serve", .. args]);
            Assert.Equal(1, exit);
            Assert.Contains(message, stderr);
        }
    }
}
