// DHCP in a lab, with the programs a Debian host has: a server on a host's bridge (dnsmasq,
// DHCP only, bound to that one interface) and a one-shot client in a guest (busybox's udhcpc,
// with a script of ours that sets the address and the default route with `ip`). Guests under a
// policy get their address this way because DHCP is infrastructure traffic, which passes unless
// the group turns it off (infra 0).
using System.Diagnostics;
using System.Globalization;

namespace Microseg.Lab;

/// <summary>dnsmasq serving DHCPv4 on one interface of one namespace; stopped (by its own process
/// id) on Dispose. DNS is off (port 0).</summary>
public sealed class DhcpServer : IDisposable
{
    private readonly Process process;

    private DhcpServer(Process process, string directory)
    {
        this.process = process;
        Directory = directory;
    }

    /// <summary>Where its lease file and log are.</summary>
    public string Directory { get; }

    public string Log => File.Exists(Path.Combine(Directory, "dnsmasq.log")) ? File.ReadAllText(Path.Combine(Directory, "dnsmasq.log")) : "";

    /// <summary>Starts dnsmasq in <paramref name="ns"/> on <paramref name="iface"/>, leasing
    /// <paramref name="first"/>..<paramref name="last"/> with <paramref name="router"/> as the
    /// default gateway, and waits until it serves.</summary>
    public static DhcpServer Start(string ns, string iface, string first, string last, string netmask, string router, string directory)
    {
        if (!File.Exists("/usr/sbin/dnsmasq"))
            throw new LabException("dnsmasq is not installed (Debian package dnsmasq-base; scripts/install-deps.sh installs it)");
        System.IO.Directory.CreateDirectory(directory);
        var log = Path.Combine(directory, "dnsmasq.log");
        File.WriteAllText(log, "");
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            "netns", "exec", ns, "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            $"--interface={iface}", "--bind-interfaces", "--except-interface=lo",
            $"--dhcp-range={first},{last},{netmask},10m", $"--dhcp-option=option:router,{router}", "--dhcp-authoritative",
            $"--dhcp-leasefile={Path.Combine(directory, "leases")}", $"--pid-file={Path.Combine(directory, "dnsmasq.pid")}",
            // No ping of an address before offering it (it delays the offer by a second or more).
            "--no-ping", "--user=root", "--group=root", $"--log-facility={log}", "--log-dhcp",
        })
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new LabException("cannot start dnsmasq");
        var server = new DhcpServer(process, directory);
        var clock = Stopwatch.StartNew();
        while (!server.Log.Contains("DHCP, IP range", StringComparison.Ordinal))
        {
            if (process.HasExited)
                throw new LabException($"dnsmasq exited ({process.ExitCode}): {process.StandardError.ReadToEnd().Trim()} {server.Log.Trim()}");
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                server.Dispose();
                throw new LabException($"dnsmasq did not start serving within 10 s: {server.Log.Trim()}");
            }
            Thread.Sleep(20);
        }
        return server;
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            // `ip netns exec` runs dnsmasq in its own process (exec, same pid).
            process.Kill();
            process.WaitForExit();
        }
        process.Dispose();
    }
}

/// <summary>A guest asks for an address once (udhcpc, a few tries a second apart).</summary>
public static class DhcpClient
{
    private const string Script = """
        #!/bin/sh
        # udhcpc calls this with the lease in the environment: set the address and the route.
        case "$1" in
          deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
          bound|renew)
            ip -4 addr flush dev "$interface"
            ip addr add "$ip/$subnet" dev "$interface"
            [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
            echo "lease $ip/$subnet router ${router:-none}" ;;
        esac
        exit 0

        """;

    /// <summary>The address the guest got (ADDRESS/PREFIX as `ip` shows it), or null when no
    /// server answered within <paramref name="tries"/> tries.</summary>
    public static string? Lease(Lab lab, LabGuest guest, int tries = 5)
    {
        if (!File.Exists("/usr/sbin/udhcpc") && !File.Exists("/sbin/udhcpc"))
            throw new LabException("udhcpc is not installed (Debian package udhcpc; scripts/install-deps.sh installs it)");
        var script = Path.Combine(lab.Directory, "udhcpc.sh");
        if (!File.Exists(script))
        {
            File.WriteAllText(script, Script);
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var r = Shell.Run("ip", "netns", "exec", lab.Namespace(guest.Name), "udhcpc", "-i", guest.GuestNic, "-f", "-q", "-n",
            "-t", tries.ToString(CultureInfo.InvariantCulture), "-T", "1", "-A", "1", "-s", script);
        if (r.ExitCode != 0) return null;
        var addr = Shell.Ip("-n", lab.Namespace(guest.Name), "-4", "-o", "addr", "show", "dev", guest.GuestNic);
        var parts = addr.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var i = Array.IndexOf(parts, "inet");
        return i >= 0 && i + 1 < parts.Length ? parts[i + 1] : null;
    }
}
