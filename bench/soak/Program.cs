// `make soak`: starts `microseg serve` on 127.0.0.1 (any free port) with a fresh config dir,
// then N clients (default 200) create groups and rules, edit them (with and without digests)
// and read them back for S seconds (default 30). It passes when there was no 5xx and no
// transport error, every client read its own acknowledged writes, every acknowledged write is
// in the final config, and that config validates and commits. Prints requests per second and
// latency percentiles; writes the same to bench/results/soak.md.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microseg.Policy;

var options = SoakOptions.Parse(args);
var work = Directory.CreateTempSubdirectory("microseg-soak-").FullName;
var configDir = Path.Combine(work, "config");
// The commit at the end applies on this host; a bpffs root beneath a regular file makes that
// apply fail harmlessly instead of loading programs (the soak is about the API, not the kernel).
File.WriteAllText(Path.Combine(work, "no-bpffs"), "");
Process? server = null;
try
{
    var secret = Microseg.Soak.Cli.Run(options.Microseg, "token", "add", "soak@pve!load", "--privileges", "SDN.Audit,SDN.Allocate", "--config-dir", configDir).Trim();
    server = Microseg.Soak.Cli.Start(options.Microseg, "serve", "--listen", "127.0.0.1:0", "--config-dir", configDir,
        "--bpffs", Path.Combine(work, "no-bpffs", "bpffs"), "--run-dir", Path.Combine(work, "run"), "--node", "soak");
    var first = server.StandardOutput.ReadLineAsync();
    if (!first.Wait(TimeSpan.FromSeconds(30)) || first.Result is not { } line)
        throw new InvalidOperationException("microseg serve did not start: " + server.StandardError.ReadToEnd());
    var baseUri = new Uri(line.Split(' ')[2]);
    Console.WriteLine($"soak: {options.Clients} clients for {options.Seconds} s against {baseUri} ({options.Microseg})");

    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Clients + 8, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        BaseAddress = new Uri(baseUri, "api2/json/cluster/sdn/microseg/"),
        Timeout = TimeSpan.FromSeconds(60),
    };
    http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"PVEAPIToken=soak@pve!load={secret}");

    var stats = new Microseg.Soak.Stats();
    var deadline = DateTime.UtcNow.AddSeconds(options.Seconds);
    var watch = Stopwatch.StartNew();
    var clients = Enumerable.Range(0, options.Clients).Select(i => new Microseg.Soak.Client(i, http, stats)).ToList();
    await Task.WhenAll(clients.Select(c => Task.Run(() => c.RunUntil(deadline))));
    var elapsed = watch.Elapsed.TotalSeconds;

    var problems = new List<string>();
    problems.AddRange(await Microseg.Soak.Verify.AcknowledgedWrites(http, clients));
    var pendingPath = Path.Combine(configDir, ConfigStore.PendingFileName);
    var config = SectionConfig.Parse(File.ReadAllBytes(pendingPath), pendingPath);
    problems.AddRange(Validation.Check(config).Select(p => $"final config invalid: {p}"));
    var commit = await http.PostAsync("commit", null);
    if (commit.StatusCode != HttpStatusCode.OK) problems.Add($"final commit: {(int)commit.StatusCode} {await commit.Content.ReadAsStringAsync()}");
    problems.AddRange(stats.Violations);
    if (stats.ServerErrors > 0) problems.Add($"{stats.ServerErrors} responses were 5xx");
    if (stats.TransportErrors > 0) problems.Add($"{stats.TransportErrors} requests failed in transport");

    var report = stats.Report(elapsed, options, config);
    report.AppendLine(problems.Count == 0
        ? "\nresult: PASS: no 5xx, every acknowledged write present, every client read its own writes, final config valid and committed"
        : "\nresult: FAIL\n  " + string.Join("\n  ", problems.Take(20)));
    Console.Write(report);
    var results = Path.Combine(Microseg.Soak.Cli.RepoRoot(), "bench", "results");
    Directory.CreateDirectory(results);
    File.WriteAllText(Path.Combine(results, "soak.md"), report.ToString());
    return problems.Count == 0 ? 0 : 1;
}
finally
{
    if (server is not null)
    {
        using (var term = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])) term.WaitForExit();
        if (!server.WaitForExit(TimeSpan.FromSeconds(15))) server.Kill(entireProcessTree: true);
        server.Dispose();
    }
    Directory.Delete(work, recursive: true);
}

internal sealed record SoakOptions(string Microseg, int Clients, int Seconds)
{
    public static SoakOptions Parse(string[] args)
    {
        var microseg = Path.Combine(global::Microseg.Soak.Cli.RepoRoot(), "out", "microseg");
        int clients = 200, seconds = 30;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--microseg": microseg = Path.GetFullPath(args[++i]); break;
                case "--clients": clients = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"soak: unknown argument '{args[i]}' (--microseg PATH, --clients N, --seconds S)");
            }
        }
        if (!File.Exists(microseg)) throw new ArgumentException($"soak: {microseg} does not exist (run 'make build', or pass --microseg)");
        return new SoakOptions(microseg, clients, seconds);
    }
}

namespace Microseg.Soak
{
    internal static class Cli
    {
        public static string RepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Makefile")) && Directory.Exists(Path.Combine(dir.FullName, "bench")))
                    return dir.FullName;
            return Directory.GetCurrentDirectory();
        }

        public static Process Start(string microseg, params string[] args)
        {
            var info = new ProcessStartInfo(microseg) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) info.ArgumentList.Add(a);
            return Process.Start(info)!;
        }

        public static string Run(string microseg, params string[] args)
        {
            using var p = Start(microseg, args);
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"microseg {string.Join(' ', args)}: exit {p.ExitCode}: {stderr}");
            return stdout.Result;
        }
    }

    internal enum Op { CreateGroup, EditGroup, CreateRule, EditRule, ReadGroup, ReadRule, Explain, ListRules, Pending, Status }

    internal sealed class Stats
    {
        private readonly ConcurrentBag<(Op Op, double Ms, int Status)> samples = [];
        private readonly ConcurrentQueue<string> violations = new();
        private int serverErrors, transportErrors;

        public int ServerErrors => serverErrors;
        public int TransportErrors => transportErrors;
        public IEnumerable<string> Violations => violations;

        public void Add(Op op, double ms, int status)
        {
            samples.Add((op, ms, status));
            if (status >= 500) Interlocked.Increment(ref serverErrors);
        }

        public void Transport(Op op, Exception e)
        {
            Interlocked.Increment(ref transportErrors);
            if (transportErrors <= 5) violations.Enqueue($"{op}: {e.GetType().Name}: {e.Message}");
        }

        public void Violation(string what) => violations.Enqueue(what);

        public StringBuilder Report(double seconds, SoakOptions options, PolicyConfig config)
        {
            var all = samples.ToArray();
            var sb = new StringBuilder();
            sb.AppendLine(CultureInfo.InvariantCulture, $"# soak: {options.Clients} clients, {seconds:F1} s");
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"requests: {all.Length}, {all.Length / seconds:F0} requests/s; " +
                $"2xx {all.Count(s => s.Status is >= 200 and < 300)}, 409 {all.Count(s => s.Status == 409)}, " +
                $"other 4xx {all.Count(s => s.Status is >= 400 and < 500 and not 409)}, 5xx {serverErrors}, transport errors {transportErrors}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"final config: {config.Groups.Count} groups, {config.Rules.Count} rules ({new FileInfo(config.Source!.File).Length / 1024} KiB)");
            sb.AppendLine();
            sb.AppendLine("| operation | requests | ok | 409 | p50 ms | p99 ms | max ms |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var group in all.GroupBy(s => s.Op).OrderBy(g => g.Key))
                sb.AppendLine(Row(group.Key.ToString(), [.. group]));
            sb.AppendLine(Row("**all**", all));
            return sb;
        }

        private static string Row(string name, (Op Op, double Ms, int Status)[] s)
        {
            var ms = s.Select(x => x.Ms).Order().ToArray();
            double P(double q) => ms.Length == 0 ? 0 : ms[Math.Min(ms.Length - 1, (int)Math.Ceiling(q * ms.Length) - 1)];
            return string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {s.Length} | {s.Count(x => x.Status is >= 200 and < 300)} | {s.Count(x => x.Status == 409)} | {P(0.50):F1} | {P(0.99):F1} | {(ms.Length == 0 ? 0 : ms[^1]):F1} |");
        }
    }

    /// <summary>One client: owns the groups and rules it creates, so it knows what every
    /// acknowledged write left behind and can check that it reads it back.</summary>
    internal sealed class Client(int id, HttpClient http, Stats stats)
    {
        private readonly Random random = new(id);
        private int counter;
        private string? digest;

        public Dictionary<string, string> Groups { get; } = new(StringComparer.Ordinal);   // name -> acknowledged comment
        public Dictionary<string, string> Rules { get; } = new(StringComparer.Ordinal);    // id -> acknowledged action
        private readonly Dictionary<string, (string Src, string Dst)> rulePairs = new(StringComparer.Ordinal);

        public async Task RunUntil(DateTime deadline)
        {
            while (DateTime.UtcNow < deadline)
            {
                var r = random.Next(100);
                if (r < 15 || Groups.Count < 2) await CreateGroup();
                else if (r < 30) await EditGroup();
                else if (r < 38) await CreateRule();
                else if (r < 43 && Rules.Count > 0) await EditRule();
                else if (r < 68) await ReadGroup();
                else if (r < 78 && Rules.Count > 0) await ReadRule();
                else if (r < 90) await Explain();
                else if (r < 95) await Request(Op.ListRules, HttpMethod.Get, "rule", null);
                else if (r < 98) await Request(Op.Pending, HttpMethod.Get, "pending", null);
                else await Request(Op.Status, HttpMethod.Get, "status", null);
            }
        }

        private async Task<(int Status, JsonElement Data)> Request(Op op, HttpMethod method, string path, object? body)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
            var watch = Stopwatch.StartNew();
            try
            {
                using var response = await http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                stats.Add(op, watch.Elapsed.TotalMilliseconds, (int)response.StatusCode);
                if (response.StatusCode != HttpStatusCode.OK) return ((int)response.StatusCode, default);
                var root = JsonDocument.Parse(text).RootElement;
                var data = root.GetProperty("data").Clone();
                if (data.ValueKind == JsonValueKind.Object && data.TryGetProperty("digest", out var d)) digest = d.GetString();
                else if (root.TryGetProperty("digest", out var ld)) digest = ld.GetString();
                return (200, data);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                stats.Transport(op, e);
                return (0, default);
            }
        }

        private string Fresh() => $"c{id}n{++counter}";

        private string AnyGroup() => Groups.Keys.ElementAt(random.Next(Groups.Count));

        private async Task CreateGroup()
        {
            var name = Fresh();
            var comment = $"made by client {id}";
            var (status, _) = await Request(Op.CreateGroup, HttpMethod.Post, "group", new { id = name, comment });
            if (status == 200) Groups[name] = comment;
        }

        private async Task EditGroup()
        {
            var name = AnyGroup();
            var comment = $"edit {++counter} by client {id}";
            // Half the edits carry the digest this client last saw: most are stale under load (409).
            object body = random.Next(2) == 0 ? new { comment, digest } : new { comment };
            var (status, _) = await Request(Op.EditGroup, HttpMethod.Put, $"group/{name}", body);
            if (status == 200) Groups[name] = comment;
            else if (status != 409) stats.Violation($"edit group {name}: {status}");
        }

        private async Task CreateRule()
        {
            var src = AnyGroup();
            var dst = AnyGroup();
            if (src == dst || rulePairs.Values.Contains((src, dst))) return;
            var action = random.Next(2) == 0 ? "allow" : "deny";
            var (status, data) = await Request(Op.CreateRule, HttpMethod.Post, "rule", new { src, dst, action });
            if (status != 200) { stats.Violation($"create rule {src} -> {dst}: {status}"); return; }
            var ruleId = data.GetProperty("id").GetString()!;
            Rules[ruleId] = action;
            rulePairs[ruleId] = (src, dst);
        }

        private async Task EditRule()
        {
            var ruleId = Rules.Keys.ElementAt(random.Next(Rules.Count));
            var action = Rules[ruleId] == "allow" ? "deny" : "allow";
            var (status, _) = await Request(Op.EditRule, HttpMethod.Put, $"rule/{ruleId}", new { action });
            if (status == 200) Rules[ruleId] = action;
            else stats.Violation($"edit rule {ruleId}: {status}");
        }

        private async Task ReadGroup()
        {
            var name = AnyGroup();
            var (status, data) = await Request(Op.ReadGroup, HttpMethod.Get, $"group/{name}", null);
            if (status == 200 && data.GetProperty("comment").GetString() != Groups[name])
                stats.Violation($"client {id} read group {name} comment '{data.GetProperty("comment").GetString()}', wrote '{Groups[name]}'");
            else if (status != 200 && status != 0) stats.Violation($"read group {name}: {status}");
        }

        private async Task ReadRule()
        {
            var ruleId = Rules.Keys.ElementAt(random.Next(Rules.Count));
            var (status, data) = await Request(Op.ReadRule, HttpMethod.Get, $"rule/{ruleId}", null);
            if (status == 200 && data.GetProperty("action").GetString() != Rules[ruleId])
                stats.Violation($"client {id} read rule {ruleId} action '{data.GetProperty("action").GetString()}', wrote '{Rules[ruleId]}'");
            else if (status != 200 && status != 0) stats.Violation($"read rule {ruleId}: {status}");
        }

        /// <summary>Groups have no parents here, so the verdict of a pair is its own rule's action, or deny.</summary>
        private async Task Explain()
        {
            var src = AnyGroup();
            var dst = AnyGroup();
            var (status, data) = await Request(Op.Explain, HttpMethod.Get, $"explain?src={src}&dst={dst}", null);
            if (status != 200) { if (status != 0) stats.Violation($"explain {src} -> {dst}: {status}"); return; }
            var expected = rulePairs.FirstOrDefault(p => p.Value == (src, dst)).Key is { } ruleId ? Rules[ruleId] : "deny";
            if (data.GetProperty("verdict").GetString() != expected)
                stats.Violation($"client {id}: explain {src} -> {dst} says {data.GetProperty("verdict").GetString()}, expected {expected}");
        }
    }

    internal static class Verify
    {
        /// <summary>Every acknowledged write, in the final lists, with its last acknowledged value.</summary>
        public static async Task<List<string>> AcknowledgedWrites(HttpClient http, IEnumerable<Client> clients)
        {
            var problems = new List<string>();
            var groups = await List(http, "group");
            var rules = await List(http, "rule");
            foreach (var c in clients)
            {
                foreach (var (name, comment) in c.Groups)
                {
                    if (!groups.TryGetValue(name, out var g)) problems.Add($"acknowledged group {name} is missing");
                    else if (g.GetProperty("comment").GetString() != comment) problems.Add($"group {name} has comment '{g.GetProperty("comment").GetString()}', last acknowledged '{comment}'");
                }
                foreach (var (ruleId, action) in c.Rules)
                {
                    if (!rules.TryGetValue(ruleId, out var r)) problems.Add($"acknowledged rule {ruleId} is missing");
                    else if (r.GetProperty("action").GetString() != action) problems.Add($"rule {ruleId} is {r.GetProperty("action").GetString()}, last acknowledged {action}");
                }
            }
            var acknowledged = clients.Sum(c => c.Groups.Count + c.Rules.Count);
            if (groups.Count + rules.Count != acknowledged)
                problems.Add($"the config holds {groups.Count + rules.Count} objects, {acknowledged} were acknowledged");
            return problems;
        }

        private static async Task<Dictionary<string, JsonElement>> List(HttpClient http, string type)
        {
            var json = await http.GetStringAsync(type);
            return JsonDocument.Parse(json).RootElement.GetProperty("data").EnumerateArray()
                .ToDictionary(e => e.GetProperty("id").GetString()!, e => e.Clone());
        }
    }
}
