// A bound on open connections, below the process's open-file limit. Every accepted connection
// costs a file descriptor; when a flood of connections (idle ones cost nothing to send) takes
// them all, the runtime fails wherever it next needs one, up to aborting ("Out of memory").
// So the server does not accept past the bound: Kestrel's accept loop first takes a slot here
// (see GuardedTransport), and while none is free the flood waits in the kernel's listen backlog,
// which costs the process no descriptor. The server serves the connections it has and takes
// the waiting ones as those close (an idle one after Kestrel's keep-alive timeout). A flood is
// logged when it starts and when it ends, not once per connection.
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Microseg.Api.Hosting;

internal sealed partial class ConnectionGuard
{
    /// <summary>Proxmox's API server serves at most 800 connections (pve-http-server max_conn).</summary>
    public const int MaxConnections = 800;

    /// <summary>Descriptors kept free beyond the bound's own half: the runtime maps each
    /// assembly it loads as requests first need it (about 20 for the first request), and the
    /// config store and token file open theirs.</summary>
    public const int Reserve = 64;

    private readonly long openFiles;
    private readonly object slots = new();
    private readonly Queue<TaskCompletionSource> waiting = new();
    private int limit;
    private int open;

    private bool flooded;
    private DateTime floodStart;
    private DateTime lastFull;
    private long acceptedInFlood;

    public ConnectionGuard(long openFiles)
    {
        this.openFiles = openFiles;
        limit = LimitFor(openFiles, OpenDescriptors());
    }

    /// <summary>The bound now. The server sets it again once it listens, when the runtime and
    /// the framework hold the descriptors they keep.</summary>
    public int Limit
    {
        get { lock (slots) return limit; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            lock (slots)
            {
                limit = value;
                GrantWaiting();
            }
        }
    }

    /// <summary>Connections accepted (or being accepted) and not yet closed.</summary>
    public int Open { get { lock (slots) return open; } }

    /// <summary>Set once the host's logging exists, before the first connection.</summary>
    public ILogger Log { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>The bound for a process that may open <paramref name="openFiles"/> files and
    /// has <paramref name="openNow"/> open: half of what is left after <see cref="Reserve"/>
    /// (the other half for the files the requests being served open meanwhile), at least 8,
    /// at most <see cref="MaxConnections"/>.</summary>
    public static int LimitFor(long openFiles, int openNow) => (int)Math.Clamp((openFiles - openNow - Reserve) / 2, 8, MaxConnections);

    /// <summary>How many descriptors this process has open (the runtime keeps two per
    /// ReadyToRun assembly: about 150 before the first request).</summary>
    public static int OpenDescriptors()
    {
        try { return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(); }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    /// <summary>The soft RLIMIT_NOFILE, from /proc/self/limits (the runtime raises it to the
    /// hard limit at start-up, so this is what the process really has); 1024 if unreadable.</summary>
    public static long OpenFilesLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                    return soft == "unlimited" ? long.MaxValue : long.Parse(soft, CultureInfo.InvariantCulture);
                }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        catch (FormatException) { }
        return 1024;
    }

    /// <summary>Takes a slot for the next connection to accept, waiting while all are taken
    /// (the first wait of a flood is logged). Every slot taken is given back with
    /// <see cref="Release"/>, once the connection's descriptor is closed or no connection came.</summary>
    public ValueTask TakeAsync(CancellationToken cancel)
    {
        TaskCompletionSource wait;
        var floodStarts = false;
        int bound;
        lock (slots)
        {
            if (open < limit)
            {
                open++;
                if (flooded) acceptedInFlood++;
                return ValueTask.CompletedTask;
            }
            // Continuations run elsewhere: Release completes waits while it holds the lock.
            wait = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiting.Enqueue(wait);
            lastFull = DateTime.UtcNow;
            if (!flooded)
            {
                flooded = floodStarts = true;
                floodStart = lastFull;
                acceptedInFlood = 0;
            }
            bound = limit;
        }
        if (floodStarts)
        {
            LogFlood(Log, bound, openFiles);
            _ = WatchFloodAsync();
        }
        return WaitAsync(wait, cancel);
    }

    private static async ValueTask WaitAsync(TaskCompletionSource wait, CancellationToken cancel)
    {
        // A wait cancelled here is skipped by GrantWaiting (its TrySetResult fails).
        using (cancel.Register(() => wait.TrySetCanceled(cancel)))
            await wait.Task;
    }

    /// <summary>Gives a slot back; the next waiting accept, if any, takes it.</summary>
    public void Release()
    {
        lock (slots)
        {
            open--;
            GrantWaiting();
        }
    }

    private void GrantWaiting()
    {
        while (open < limit && waiting.TryDequeue(out var next))
            if (next.TrySetResult())
            {
                open++;
                if (flooded) acceptedInFlood++;
            }
    }

    /// <summary>How long the bound must have had room, every accept taking a slot at once,
    /// before a flood counts as over (so one that pauses between bursts stays one episode).</summary>
    public TimeSpan Quiet { get; init; } = TimeSpan.FromSeconds(2);

    private async Task WatchFloodAsync()
    {
        while (true)
        {
            await Task.Delay(Quiet);
            double seconds;
            long accepted;
            int openNow;
            lock (slots)
            {
                var now = DateTime.UtcNow;
                if (waiting.Any(w => !w.Task.IsCompleted)) lastFull = now;
                if (now - lastFull < Quiet) continue;
                flooded = false;
                seconds = Math.Round((lastFull - floodStart).TotalSeconds, 1);
                accepted = acceptedInFlood;
                openNow = open;
            }
            LogDrained(Log, seconds, accepted, openNow);
            return;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "connection limit reached: {Limit} connections open (open-file limit {OpenFiles}); new connections wait in the listen backlog until some close")]
    private static partial void LogFlood(ILogger log, int limit, long openFiles);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "connection flood over: the limit was reached for {Seconds} s, {Accepted} connections were accepted from the listen backlog as others closed; {Open} open, new connections are accepted at once again")]
    private static partial void LogDrained(ILogger log, double seconds, long accepted, int open);
}
