// sd_notify(3) without libsystemd: one datagram per state change to the unix socket systemd
// names in $NOTIFY_SOCKET ('@' = abstract namespace), and the watchdog interval from
// $WATCHDOG_USEC. Without NOTIFY_SOCKET (not run by systemd) every call is a no-op.
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Microseg.Agent.Resident;

public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? socket;
    private readonly UnixDomainSocketEndPoint? target;

    private SystemdNotifier(string? address)
    {
        if (address is null) return;
        target = new UnixDomainSocketEndPoint(SocketPath(address));
        socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    /// <summary>The notifier for $NOTIFY_SOCKET, or an inert one when it is unset.</summary>
    public static SystemdNotifier FromEnvironment() =>
        new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET") is { Length: > 0 } s ? s : null);

    public bool Enabled => socket is not null;

    /// <summary>The socket path as the kernel wants it: '@' names an abstract socket, which
    /// starts with a NUL byte.</summary>
    public static string SocketPath(string address) => address[0] == '@' ? "\0" + address[1..] : address;

    /// <summary>"READY=1\nSTATUS=…": one KEY=VALUE per line; a value is one line.</summary>
    public static string Message(params (string Key, string Value)[] fields)
    {
        var b = new StringBuilder();
        foreach (var (key, value) in fields)
        {
            if (b.Length > 0) b.Append('\n');
            b.Append(key).Append('=').Append(value.ReplaceLineEndings(" "));
        }
        return b.ToString();
    }

    /// <summary>How often to send WATCHDOG=1: half of $WATCHDOG_USEC, when it is set for this
    /// process ($WATCHDOG_PID, when present, must be ours); null when there is no watchdog.</summary>
    public static TimeSpan? WatchdogInterval(string? watchdogUsec, string? watchdogPid, int pid)
    {
        if (watchdogUsec is null || !long.TryParse(watchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec <= 0)
            return null;
        if (watchdogPid is { Length: > 0 } && (!int.TryParse(watchdogPid, NumberStyles.None, CultureInfo.InvariantCulture, out var owner) || owner != pid))
            return null;
        return TimeSpan.FromMicroseconds(usec / 2.0);
    }

    public static TimeSpan? WatchdogIntervalFromEnvironment() =>
        WatchdogInterval(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId);

    /// <summary>Sends the fields as one datagram. systemd not listening is not our failure:
    /// returns false and the caller logs it.</summary>
    public bool Notify(params (string Key, string Value)[] fields)
    {
        if (socket is null) return true;
        try
        {
            lock (socket) socket.SendTo(Encoding.UTF8.GetBytes(Message(fields)), target!);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose() => socket?.Dispose();
}
