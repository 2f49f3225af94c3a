// The recent drops `microseg serve` shows (GET .../drops, the web UI's "Recent drops"): while the
// server runs, a background task reads this host's verdict events and keeps the newest drops in
// a bounded ring in memory. Nothing is written anywhere; a restart starts with an empty ring.
//
// The events exist only where the policy programs are loaded and can only be read as root: until
// then (or when the programs are replaced, e.g. by a commit that changed the map schema) the feed
// says why in Problem and tries again every few seconds.
//
// A host's events have one reader at a time (the kernel's ring has one read position), so the
// feed reads only while someone looks: the first request for drops starts it, and it lets go
// when nobody has asked for Idle, leaving the events to `microseg monitor` meanwhile.
using Microseg.Agent;
using Microseg.Agent.Observe;
using Microseg.Policy;
using Microsoft.Extensions.Logging;

namespace Microseg.Api.Observe;

public sealed partial class DropFeed : IAsyncDisposable
{
    /// <summary>Drops kept: what the API's limit can ask for.</summary>
    public const int Capacity = 1000;
    private static readonly TimeSpan Retry = TimeSpan.FromSeconds(2);

    /// <summary>How long the feed keeps reading after the last request for drops.</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan IdleCheck = TimeSpan.FromSeconds(10);
    private const string IdleProblem = "not reading: nobody has asked for drops for a while (a microseg monitor on this host may read meanwhile); this request starts it";
    private long lastAsked = long.MinValue / 2;
    private readonly SemaphoreSlim asked = new(0, 1);

    private readonly AgentOptions options;
    private readonly ILogger log;
    private readonly VerdictEvent[] ring = new VerdictEvent[Capacity];
    private readonly object gate = new();
    private readonly CancellationTokenSource stop = new();
    private CancellationTokenSource reopen = new();
    private int next, count;
    private long total;
    private Task? run;

    private readonly Func<PolicyConfig?> committed;

    /// <param name="committed">The committed policy (null: none), read when the monitor opens:
    /// it names the groups of the events' marks.</param>
    public DropFeed(AgentOptions options, Func<PolicyConfig?> committed, ILoggerFactory logs)
    {
        this.options = options;
        this.committed = committed;
        log = logs.CreateLogger("microseg.api");
    }

    /// <summary>Why no drops are being read now; null while the monitor runs.</summary>
    public string? Problem { get; private set; } = "not started";

    /// <summary>Drops seen since the server started (the ring keeps the newest <see cref="Capacity"/>).</summary>
    public long Total => Interlocked.Read(ref total);

    /// <summary>Events the kernel could not deliver since the monitor was (re)opened.</summary>
    public ulong Lost => monitor?.Lost ?? 0;

    private VerdictMonitor? monitor;

    public void Start() => run ??= Task.Run(() => RunAsync(stop.Token));

    /// <summary>The programs may have been replaced (an apply ran): read from the pins anew.</summary>
    public void Reopen()
    {
        lock (gate) reopen.Cancel();
    }

    /// <summary>The newest drops first, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<VerdictEvent> Recent(int limit)
    {
        Interlocked.Exchange(ref lastAsked, Environment.TickCount64);
        if (asked.CurrentCount == 0)
        {
            try { asked.Release(); }
            catch (SemaphoreFullException) { } // another request woke it first
        }
        lock (gate)
        {
            var n = Math.Min(limit, count);
            var result = new List<VerdictEvent>(n);
            for (var i = 1; i <= n; i++) result.Add(ring[(next - i + Capacity) % Capacity]);
            return result;
        }
    }

    /// <summary>Records one event when it is a drop (the ring drops its oldest).</summary>
    internal void Add(VerdictEvent e)
    {
        if (e.Verdict != VerdictEvent.Drop) return;
        lock (gate)
        {
            ring[next] = e;
            next = (next + 1) % Capacity;
            count = Math.Min(count + 1, Capacity);
        }
        Interlocked.Increment(ref total);
    }

    private async Task RunAsync(CancellationToken cancel)
    {
        string? logged = null;
        while (!cancel.IsCancellationRequested)
        {
            if (IsIdle)
            {
                Problem = IdleProblem;
                try { await asked.WaitAsync(cancel); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            CancellationTokenSource again;
            lock (gate)
            {
                if (reopen.IsCancellationRequested) { reopen.Dispose(); reopen = new(); }
                again = reopen;
            }
            using var idle = new CancellationTokenSource();
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancel, again.Token, idle.Token);
            using var stopWatch = CancellationTokenSource.CreateLinkedTokenSource(both.Token);
            var watch = WatchIdleAsync(idle, stopWatch.Token);
            try
            {
                await using var m = VerdictMonitor.Open(options, flows: false, Committed());
                monitor = m;
                Problem = null;
                logged = null;
                await foreach (var e in m.ReadAllAsync(both.Token)) Add(e);
            }
            catch (OperationCanceledException) when (both.IsCancellationRequested) { }
            catch (Exception e) when (AgentErrors.IsOperationFailure(e))
            {
                Problem = $"the verdict events of this host cannot be read: {e.Message}";
                if (Problem != logged) LogUnavailable(log, e.Message);
                logged = Problem;
            }
            finally
            {
                monitor = null;
                stopWatch.Cancel();
                await watch;
            }
            if (cancel.IsCancellationRequested) break;
            if (IsIdle) continue;
            if (!again.IsCancellationRequested)
            {
                using var retry = CancellationTokenSource.CreateLinkedTokenSource(cancel, again.Token);
                try { await Task.Delay(Retry, retry.Token); }
                catch (OperationCanceledException) { }
            }
        }
    }

    private bool IsIdle => Environment.TickCount64 - Interlocked.Read(ref lastAsked) > (long)Idle.TotalMilliseconds;

    /// <summary>Cancels <paramref name="idle"/> once nobody has asked for drops for <see cref="Idle"/>.</summary>
    private async Task WatchIdleAsync(CancellationTokenSource idle, CancellationToken cancel)
    {
        try
        {
            while (!IsIdle) await Task.Delay(IdleCheck, cancel);
            idle.Cancel();
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The committed policy, or none when it cannot be read (groups then show as marks).</summary>
    private PolicyConfig? Committed()
    {
        try { return committed(); }
        catch (ConfigException) { return null; }
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        if (run is not null)
        {
            try { await run; }
            catch (OperationCanceledException) { }
        }
        stop.Dispose();
        reopen.Dispose();
        asked.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "recent drops: no verdict events to read yet: {Reason}")]
    private static partial void LogUnavailable(ILogger log, string reason);
}
