// DHCP in a lab, with the programs a Debian host has: a server on a host's bridge (dnsmasq,
// DHCP only, bound to that one interface) and a one-shot client in a guest (busybox's udhcpc,
// with a script of ours that sets the address and the default route with `ip`). Guests under a
// policy get their address this way because DHCP is infrastructure traffic, which passes unless
// the group turns it off (infra 0).
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microseg.Netlink;

namespace Microseg.Lab;

/// <summary>dnsmasq serving DHCPv4 (and DHCPv6 if asked) on one interface of one namespace;
/// stopped (by its own process id) on Dispose. DNS is off (port 0).</summary>
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
    /// <param name="range6">Also serve DHCPv6 from this range ("FIRST,LAST" of a /64 the
    /// interface has an address in), or null for DHCPv4 only.</param>
    public static DhcpServer Start(string ns, string iface, string first, string last, string netmask, string router, string directory, string? range6 = null)
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
        if (range6 is not null) psi.ArgumentList.Add($"--dhcp-range={range6},64,10m");
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

/// <summary>The first exchange of a DHCPv6 client (RFC 8415), sent from a guest: a Solicit from
/// port 546 to All_DHCP_Relay_Agents_and_Servers (ff02::1:2) port 547 on the guest's NIC, and
/// the Advertise a server sends back. Debian has no DHCPv6 client that runs without a system
/// service around it, and the Solicit/Advertise pair is all that shows the traffic passing.</summary>
public static class Dhcp6Client
{
    private const byte Solicit = 1, Advertise = 2;
    private const ushort OptionClientId = 1, OptionIaNa = 3, OptionIaAddr = 5, OptionElapsedTime = 8;

    /// <summary>The address offered in the Advertise (from its IA_NA; <see cref="IPAddress.IPv6None"/>
    /// for an Advertise without one), or null when no Advertise for this Solicit arrived within
    /// <paramref name="tries"/> tries a second apart.</summary>
    public static IPAddress? Advertised(Lab lab, LabGuest guest, int tries = 5)
    {
        ArgumentNullException.ThrowIfNull(lab);
        ArgumentNullException.ThrowIfNull(guest);
        var ns = lab.Namespace(guest.Name);
        // "5: eth0@if6: <...": the NIC's ifindex inside the guest, the scope of ff02::1:2.
        var link = Shell.Ip("-n", ns, "-o", "link", "show", "dev", guest.GuestNic);
        uint ifindex = uint.Parse(link[..link.IndexOf(':', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
        using var socket = NetworkNamespace.Run(ns, () =>
        {
            var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.IPv6Any, 546));
            s.ReceiveTimeout = 1000;
            return s;
        });
        var mac = guest.Mac.Split(':').Select(b => byte.Parse(b, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        var servers = new IPEndPoint(new IPAddress(IPAddress.Parse("ff02::1:2").GetAddressBytes(), ifindex), 547);
        var buffer = new byte[1500];
        for (int attempt = 0; attempt < tries; attempt++)
        {
            var transaction = new byte[3];
            Random.Shared.NextBytes(transaction);
            socket.SendTo(SolicitMessage(transaction, mac), servers);
            var until = DateTime.UtcNow.AddSeconds(1);
            while (DateTime.UtcNow < until)
            {
                int n;
                try { n = socket.Receive(buffer); }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut) { break; }
                if (n >= 4 && buffer[0] == Advertise && buffer.AsSpan(1, 3).SequenceEqual(transaction))
                    return OfferedAddress(buffer.AsSpan(4, n - 4)) ?? IPAddress.IPv6None;
            }
        }
        return null;
    }

    private static byte[] SolicitMessage(byte[] transaction, byte[] mac)
    {
        var m = new List<byte> { Solicit };
        m.AddRange(transaction);
        void Option(ushort code, byte[] data)
        {
            m.Add((byte)(code >> 8)); m.Add((byte)code);
            m.Add((byte)(data.Length >> 8)); m.Add((byte)data.Length);
            m.AddRange(data);
        }
        Option(OptionClientId, [0, 3, 0, 1, .. mac]); // DUID-LL: type 3, hardware type 1 (Ethernet), the MAC
        Option(OptionElapsedTime, [0, 0]);
        Option(OptionIaNa, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]); // IAID 1, T1 and T2 left to the server
        return [.. m];
    }

    /// <summary>The first IA Address inside the first IA_NA of the options, if any.</summary>
    private static IPAddress? OfferedAddress(ReadOnlySpan<byte> options)
    {
        while (options.Length >= 4)
        {
            ushort code = BinaryPrimitives.ReadUInt16BigEndian(options), length = BinaryPrimitives.ReadUInt16BigEndian(options[2..]);
            if (options.Length < 4 + length) return null;
            var data = options.Slice(4, length);
            if (code == OptionIaNa && data.Length >= 12)
                return OfferedAddress(data[12..]);
            if (code == OptionIaAddr && data.Length >= 16)
                return new IPAddress(data[..16]);
            options = options[(4 + length)..];
        }
        return null;
    }
}
