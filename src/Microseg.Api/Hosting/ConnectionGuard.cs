// A bound on open connections, below the process's open-file limit. Every connection costs a
// file descriptor; when a flood of connections (idle ones cost nothing to send) takes them
// all, accept() fails, and the runtime then fails wherever it next needs one, up to aborting
// ("Out of memory"). Past the bound a new connection is closed as soon as it is accepted, so
// descriptors stay free for the connections being served, the config files and the runtime; the
// server serves the connections it has and takes new ones again as the flood drains. A flood is
// logged when it starts and when it ends, not once per refused connection.
using System.Globalization;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Microseg.Api.Hosting;

internal sealed partial class ConnectionGuard(long openFiles)
{
    /// <summary>Proxmox's API server serves at most 800 connections (pve-http-server max_conn).</summary>
    public const int MaxConnections = 800;

    private readonly object episodeLock = new();
    private int open;
    private bool flooded;
    private long refused;
    private DateTime floodStart;

    private int limit = LimitFor(openFiles, OpenDescriptors());

    /// <summary>The bound now. The server sets it again once it listens, when the runtime and
    /// the framework hold the descriptors they keep.</summary>
    public int Limit
    {
        get => Volatile.Read(ref limit);
        set => Volatile.Write(ref limit, value);
    }

    /// <summary>Set once the host's logging exists, before the first connection.</summary>
    public ILogger Log { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>Descriptors kept free beyond the bound's own half: the runtime maps each
    /// assembly it loads as requests first need it (about 20 for the first request), and the
    /// config store and token file open theirs.</summary>
    public const int Reserve = 64;

    /// <summary>The bound for a process that may open <paramref name="openFiles"/> files and
    /// has <paramref name="openNow"/> open: half of what is left after <see cref="Reserve"/>
    /// (the other half for files opened later and the one accept() past the bound), at least 8,
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

    /// <summary>Kestrel connection middleware: serves the connection within the bound, else closes it.</summary>
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (Interlocked.Increment(ref open) > Limit)
        {
            Interlocked.Decrement(ref open);
            Refused();
            connection.Abort(new ConnectionAbortedException("connection limit reached"));
            return;
        }
        try
        {
            await next(connection);
        }
        finally
        {
            // Hysteresis: the flood is over when a quarter of the bound is free again.
            var bound = Limit;
            if (Interlocked.Decrement(ref open) <= bound - bound / 4 && Volatile.Read(ref flooded)) Drained();
        }
    }

    private void Refused()
    {
        lock (episodeLock)
        {
            refused++;
            if (flooded) return;
            flooded = true;
            floodStart = DateTime.UtcNow;
            refused = 1;
        }
        LogFlood(Log, Limit, openFiles);
    }

    private void Drained()
    {
        long count;
        TimeSpan lasted;
        lock (episodeLock)
        {
            if (!flooded) return;
            flooded = false;
            count = refused;
            lasted = DateTime.UtcNow - floodStart;
        }
        LogDrained(Log, count, Math.Round(lasted.TotalSeconds, 1), Volatile.Read(ref open));
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "connection limit reached: {Limit} connections open (open-file limit {OpenFiles}); refusing new connections until some close")]
    private static partial void LogFlood(ILogger log, int limit, long openFiles);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "connection flood over: refused {Refused} connections in {Seconds} s; {Open} open, taking new connections again")]
    private static partial void LogDrained(ILogger log, long refused, double seconds, int open);
}
