// `microseg serve` as an operator and an attacker meet it: what it says it listens on, what it
// refuses to start with, which port it takes by default, and a flood of idle connections
// beyond its open-file limit. Every server here is a child process on 127.0.0.1 (0.0.0.0
// listens are reached through 127.0.0.1), bounded in time.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microseg.Api.Auth;
using Microseg.Api.Hosting;
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Api.Tests;

/// <summary>A `microseg serve` child with any arguments; stdout and stderr collected by line.</summary>
public sealed class ServeChild : IDisposable
{
    private readonly Process process;
    private readonly List<string> stdout = [];
    private readonly List<string> stderr = [];

    private ServeChild(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The CLI built beside this test (`dotnet microseg.dll`).</summary>
    public static ServeChild Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet");
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "microseg.dll"));
        info.ArgumentList.Add("serve");
        foreach (var a in args) info.ArgumentList.Add(a);
        return new ServeChild(info);
    }

    /// <summary>The published out/microseg under `ulimit -n <paramref name="openFiles"/>`.</summary>
    public static ServeChild StartPublished(int openFiles, params string[] args)
    {
        var binary = RepoPaths.MicrosegBinary;
        Assert.True(File.Exists(binary), $"{binary} is missing: run `make build` first");
        var info = new ProcessStartInfo("bash");
        foreach (var a in (string[])["-c", $"ulimit -n {openFiles} && exec \"$0\" serve \"$@\"", binary, .. args]) info.ArgumentList.Add(a);
        return new ServeChild(info);
    }

    public Process Process => process;
    public string[] Stdout { get { lock (stdout) return [.. stdout]; } }
    public string[] Stderr { get { lock (stderr) return [.. stderr]; } }
    public string Output => $"stdout: {string.Join("\n", Stdout)}\nstderr: {string.Join("\n", Stderr)}";

    /// <summary>The first stdout line, waiting up to <paramref name="timeout"/> for it.</summary>
    public string FirstLine(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Stdout is [var first, ..]) return first;
            if (process.HasExited) { process.WaitForExit(); if (Stdout is [var late, ..]) return late; break; }
            Thread.Sleep(50);
        }
        throw new Xunit.Sdk.XunitException($"microseg serve printed no line within {timeout}: {Output}");
    }

    /// <summary>Waits for the process to end by itself; false if it was still running.</summary>
    public bool Exited(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout)) return false;
        process.WaitForExit(); // drains the output readers
        return true;
    }

    public bool Terminate(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        return Exited(timeout);
    }

    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
    }
}

public sealed partial class ServeHardeningTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private static string AdminToken(string configDir) =>
        $"root@pam!t={new TokenStore(new DirectoryConfigStore(configDir)).Add("root@pam!t", new HashSet<Privilege> { Privilege.Audit, Privilege.Allocate })}";

    private static HttpClient Client(int port, string token, HttpMessageHandler? handler = null)
    {
        var http = handler is null ? new HttpClient() : new HttpClient(handler);
        http.BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        http.Timeout = TimeSpan.FromSeconds(10);
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"PVEAPIToken={token}");
        return http;
    }

    [GeneratedRegex(@"^microseg: serving (https?)://([^/]+):(\d+)/ ")]
    private static partial Regex Banner();

    [Fact]
    public void Serving_plain_http_beyond_loopback_needs_insecure_http()
    {
        using var dir = new TempDirectory();
        foreach (var listen in new[] { "0.0.0.0:0", "[::]:0" })
        {
            using var serve = ServeChild.Start("--listen", listen, "--config-dir", dir.Path);
            Assert.True(serve.Exited(StartTimeout), $"serve --listen {listen} without TLS kept running: {serve.Output}");
            Assert.Equal(1, serve.Process.ExitCode);
            Assert.Empty(serve.Stdout);
            var line = Assert.Single(serve.Stderr);
            Assert.StartsWith("microseg: ", line);
            Assert.Contains("--insecure-http", line);
        }
    }

    [Fact]
    public async Task The_banner_names_the_address_really_bound()
    {
        using var dir = new TempDirectory();
        var token = AdminToken(dir.Path);
        using (var serve = ServeChild.Start("--listen", "0.0.0.0:0", "--insecure-http", "--config-dir", dir.Path))
        {
            var banner = Banner().Match(serve.FirstLine(StartTimeout));
            Assert.True(banner.Success, serve.Output);
            Assert.Equal(("http", "0.0.0.0"), (banner.Groups[1].Value, banner.Groups[2].Value));
            // It says, once, that what it serves is readable on the network.
            Assert.Contains(serve.Stderr, l => l.Contains("plain HTTP", StringComparison.Ordinal) && l.Contains("--insecure-http", StringComparison.Ordinal));
            using var http = Client(int.Parse(banner.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture), token);
            using var status = await http.GetAsync($"{ApiHost.Base}/status");
            Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        }
        // With TLS, beyond loopback needs no further option, and the banner says https and where.
        using (var tls = ServeChild.Start("--listen", "0.0.0.0:0", "--tls-self-signed", "--config-dir", dir.Path))
        {
            var banner = Banner().Match(tls.FirstLine(StartTimeout));
            Assert.True(banner.Success, tls.Output);
            Assert.Equal(("https", "0.0.0.0"), (banner.Groups[1].Value, banner.Groups[2].Value));
        }
    }

    [Fact]
    public void The_default_port_is_8017_which_no_proxmox_service_uses()
    {
        // 8006 is Proxmox VE's (and Mail Gateway's) API, 8007 Proxmox Backup Server's.
        Assert.Equal("127.0.0.1:8017", ListenAddress.Default);
        using var dir = new TempDirectory();
        var (exit, help, _) = MicrosegCli.Run(dir.Path, "serve", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("127.0.0.1:8017", help);
        Assert.DoesNotContain("8007", help);
        Assert.Contains("--insecure-http", help);
    }

    [Fact]
    public void Start_up_failures_are_one_line_and_a_non_zero_exit()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("garbage.pem"), "not a certificate\n");
        File.WriteAllText(dir.File("garbage.key"), "not a key\n");
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        foreach (var (args, says) in new[]
        {
            (new[] { "--listen", $"127.0.0.1:{port}" }, "in use"),
            (new[] { "--listen", "127.0.0.1:0", "--tls-cert", dir.File("garbage.pem"), "--tls-key", dir.File("garbage.key") }, "garbage.pem"),
            (new[] { "--listen", "127.0.0.1:0", "--tls-cert", dir.File("missing.pem"), "--tls-key", dir.File("missing.key") }, "missing.pem"),
            (new[] { "--listen", "127.0.0.1:0", "--tls-cert", dir.Path, "--tls-key", dir.File("garbage.key") }, dir.Path),
        })
        {
            using var serve = ServeChild.Start([.. args, "--config-dir", dir.Path]);
            Assert.True(serve.Exited(StartTimeout), $"serve {string.Join(' ', args)} kept running: {serve.Output}");
            Assert.NotEqual(0, serve.Process.ExitCode);
            var lines = serve.Stderr.Where(l => l.Trim().Length > 0).ToList();
            Assert.True(lines.Count == 1, $"serve {string.Join(' ', args)}: want one line on stderr, got: {serve.Output}");
            Assert.StartsWith("microseg: ", lines[0]);
            Assert.Contains(says, lines[0]);
            Assert.DoesNotContain("Exception", lines[0]);
        }
    }

    /// <summary>More idle connections than the server may open files: it leaves the excess
    /// unaccepted (and says so once), keeps descriptors free, keeps serving the connection it
    /// had, stays alive, and serves new clients again once the flood is gone.</summary>
    [Fact]
    public async Task A_flood_of_idle_connections_beyond_the_open_file_limit_is_survived()
    {
        const int openFiles = 256, flood = 3 * openFiles;
        using var dir = new TempDirectory();
        var token = AdminToken(dir.Path);
        using var serve = ServeChild.StartPublished(openFiles, "--listen", "127.0.0.1:0", "--config-dir", dir.Path);
        var banner = Banner().Match(serve.FirstLine(StartTimeout));
        Assert.True(banner.Success, serve.Output);
        var port = int.Parse(banner.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);

        // One client that was there first, on one kept-alive connection.
        using var keptAlive = Client(port, token, new SocketsHttpHandler { MaxConnectionsPerServer = 1, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) });
        Assert.Equal(HttpStatusCode.OK, (await keptAlive.GetAsync($"{ApiHost.Base}/status")).StatusCode);

        var sockets = new List<Socket>();
        try
        {
            using var floodTime = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            for (var batch = 0; batch < flood / 64; batch++)
            {
                var connects = Enumerable.Range(0, 64).Select(async _ =>
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    lock (sockets) sockets.Add(s);
                    try { await s.ConnectAsync(IPAddress.Loopback, port, floodTime.Token); }
                    catch (Exception e) when (e is SocketException or OperationCanceledException) { } // refused is fine
                });
                await Task.WhenAll(connects);
            }
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(serve.Process.HasExited, $"serve died under the flood (exit {(serve.Process.HasExited ? serve.Process.ExitCode : 0)}): {serve.Output}");
            // It took no more connections than leave descriptors to spare.
            var descriptors = Directory.GetFileSystemEntries($"/proc/{serve.Process.Id}/fd").Length;
            Assert.True(descriptors < openFiles - 32, $"serve has {descriptors} descriptors open of {openFiles} under the flood: {serve.Output}");

            // The connection it had is still served.
            using var during = await keptAlive.GetAsync($"{ApiHost.Base}/status");
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }

        // Once the flood is gone, a new client is served again.
        HttpStatusCode? after = null;
        var recovered = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < recovered && after != HttpStatusCode.OK)
        {
            try
            {
                using var fresh = Client(port, token);
                using var response = await fresh.GetAsync($"{ApiHost.Base}/status");
                after = response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { await Task.Delay(250); }
        }
        Assert.True(after == HttpStatusCode.OK, $"no answer after the flood ended: {serve.Output}");
        Assert.False(serve.Process.HasExited, serve.Output);

        // Said once per episode, not once per connection; and said when it is over.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline && !serve.Stderr.Any(l => l.Contains("connection flood over", StringComparison.Ordinal))) await Task.Delay(100);
        Assert.Single(serve.Stderr, l => l.Contains("connection limit reached", StringComparison.Ordinal));
        Assert.Single(serve.Stderr, l => l.Contains("connection flood over", StringComparison.Ordinal));

        Assert.True(serve.Terminate(TimeSpan.FromSeconds(15)), serve.Output);
        Assert.Equal(0, serve.Process.ExitCode);
    }
}
