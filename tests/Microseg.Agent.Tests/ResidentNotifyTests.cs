// sd_notify messages and the watchdog interval, as systemd reads them.
using Microseg.Agent.Resident;

namespace Microseg.Agent.Tests;

public class ResidentNotifyTests
{
    [Fact]
    public void Fields_are_key_value_lines_and_a_value_stays_on_its_line()
    {
        Assert.Equal("READY=1\nSTATUS=enforcing version 7, 12 NICs",
            SystemdNotifier.Message(("READY", "1"), ("STATUS", "enforcing version 7, 12 NICs")));
        Assert.Equal("STATUS=a b", SystemdNotifier.Message(("STATUS", "a\nb")));
        Assert.Equal("WATCHDOG=1", SystemdNotifier.Message(("WATCHDOG", "1")));
    }

    [Fact]
    public void An_at_sign_names_an_abstract_socket()
    {
        Assert.Equal("\0microseg-notify", SystemdNotifier.SocketPath("@microseg-notify"));
        Assert.Equal("/run/systemd/notify", SystemdNotifier.SocketPath("/run/systemd/notify"));
    }

    [Fact]
    public void The_watchdog_pings_at_half_its_interval_and_only_for_its_own_process()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), SystemdNotifier.WatchdogInterval("2000000", null, 42));
        Assert.Equal(TimeSpan.FromSeconds(15), SystemdNotifier.WatchdogInterval("30000000", "42", 42));
        Assert.Null(SystemdNotifier.WatchdogInterval("30000000", "41", 42));
        Assert.Null(SystemdNotifier.WatchdogInterval(null, null, 42));
        Assert.Null(SystemdNotifier.WatchdogInterval("0", null, 42));
        Assert.Null(SystemdNotifier.WatchdogInterval("soon", null, 42));
    }

    [Fact]
    public void Without_notify_socket_the_notifier_is_inert()
    {
        var saved = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
        try
        {
            using var notifier = SystemdNotifier.FromEnvironment();
            Assert.False(notifier.Enabled);
            Assert.True(notifier.Notify(("READY", "1")));
        }
        finally { Environment.SetEnvironmentVariable("NOTIFY_SOCKET", saved); }
    }
}
