// bench/native/udp-flood.c, built with clang for a test and run in a guest's namespace.
using System.Globalization;
using Microseg.Lab;
using Microseg.TestSupport;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Agent.Tests.Kernel;

public static class UdpFlood
{
    public sealed record Sent(long Packets, double PacketsPerSecond);

    /// <summary>Compiles the sender into <paramref name="dir"/>; returns its path.</summary>
    public static string Build(TempDirectory dir)
    {
        var output = dir.File("udp-flood");
        var r = Shell.Run("clang", "-O2", "-Wall", "-Werror", "-o", output, Path.Combine(RepoPaths.Root, "bench", "native", "udp-flood.c"));
        Assert.True(r.ExitCode == 0, $"clang udp-flood.c: {r.Stderr}");
        return output;
    }

    /// <summary>Floods <paramref name="dst"/>:<paramref name="port"/> from <paramref name="from"/>
    /// for <paramref name="seconds"/> with <paramref name="senders"/> senders at once (one per
    /// core: one alone may not reach the rate on a busy machine); what they counted, summed.</summary>
    public static Sent Run(LabRig lab, LabGuest from, string binary, string dst, int port, double seconds, int sport, int senders = 2)
    {
        var runs = Enumerable.Range(0, senders).Select(_ => Task.Run(() => Shell.Run("ip", "netns", "exec", lab.Namespace(from.Name), binary, dst,
            port.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture), sport.ToString(CultureInfo.InvariantCulture)))).ToList();
        long packets = 0;
        double rate = 0;
        foreach (var r in runs.Select(t => t.Result))
        {
            Assert.True(r.ExitCode == 0, $"udp-flood: {r.Stderr}");
            var parts = r.Stdout.Trim().Split(' ');
            packets += long.Parse(parts[0], CultureInfo.InvariantCulture);
            rate += double.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        return new Sent(packets, rate);
    }
}
