// monitor-flood: does a flood of denied packets towards one guest, with `microseg monitor`
// running, cost the allowed traffic between two other guests? iperf3 a -> b (allowed) alone and
// while f floods c (denied: every packet is a drop and a candidate event; the kernel's bucket
// lets 100/s through to the ring and counts the rest as lost). Rounds alternate; the ratio is
// within the same run. A third case floods with events off (rate 0) to tell the monitor's share
// from the flood's own cost (the drops themselves, and the sender's CPU on this machine).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microseg.Lab;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Bench;

public static class MonitorBench
{
    private const int FloodPps = 100_000, Seconds = 3, Rounds = 5;

    public static Task Flood(Report report)
    {
        const string policy = "group: a\n\tmark 1\n\ngroup: b\n\tmark 2\n\ngroup: f\n\tmark 3\n\ngroup: c\n\tmark 4\n\n" +
                              "rule: p1-2\n\tsrc a\n\tdst b\n\taction allow\n\n" +
                              "assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup a\n\nassignment: vm200i0\n\tvmid 200\n\tiface 0\n\tgroup b\n\n" +
                              "assignment: vm300i0\n\tvmid 300\n\tiface 0\n\tgroup f\n\nassignment: vm400i0\n\tvmid 400\n\tiface 0\n\tgroup c\n";
        var spec = new LabSpec("bmonflood", policy, [new LabHost("node1")],
        [
            new LabGuest("a", "node1", 100, 0, "10.77.0.1/24"), new LabGuest("b", "node1", 200, 0, "10.77.0.2/24"),
            new LabGuest("f", "node1", 300, 0, "10.77.0.3/24"), new LabGuest("c", "node1", 400, 0, "10.77.0.4/24"),
        ]);
        var lab = new LabRig(spec, Paths.Microseg);
        var host = spec.Hosts[0];
        Process? server = null;
        try
        {
            lab.Up(TextWriter.Null);
            server = Process.Start("ip", ["netns", "exec", lab.Namespace("b"), "iperf3", "-s", "-B", "10.77.0.2", "--logfile", "/dev/null"]);
            Thread.Sleep(500);
            var alone = new List<double>();
            var flooded = new List<double>();
            var floodedQuiet = new List<double>();
            var pps = new List<double>();
            long events = 0, lost = 0;
            for (int round = 0; round < Rounds; round++)
            {
                lab.MicrosegResult(host, new Dictionary<string, string> { ["MICROSEG_MONITOR_RATE"] = "100" }, "apply");
                using (var monitor = Monitor.Start(lab, host))
                {
                    alone.Add(Iperf(lab));
                    var (gbps, rate) = WithFlood(lab);
                    flooded.Add(gbps);
                    pps.Add(rate);
                    var (e, l) = monitor.Stop();
                    events += e;
                    lost += l;
                }
                // Events off: the same flood, only the drops.
                lab.MicrosegResult(host, new Dictionary<string, string> { ["MICROSEG_MONITOR_RATE"] = "0" }, "apply");
                floodedQuiet.Add(WithFlood(lab).Gbps);
            }
            double a = Median(alone), f = Median(flooded), q = Median(floodedQuiet);
            report.Line($"TCP a -> b (allowed; iperf3, {Seconds} s) while guest f floods guest c with denied UDP " +
                        $"(target {FloodPps:N0} packets/s, reached {Median(pps):N0}/s median), `microseg monitor --json` running; " +
                        $"{Rounds} rounds, alternating, median. {Environment.ProcessorCount} cores: the sender itself takes CPU from iperf3 here.");
            report.Line();
            report.Line("| case | Gbit/s | × no flood |");
            report.Line("|---|---:|---:|");
            report.Line($"| no flood, monitor running (baseline) | {a:F2} | 1.00 |");
            report.Line($"| flood, monitor running, 100 events/s per NIC | {f:F2} | {f / a:F2} |");
            report.Line($"| flood, events off (rate 0: only the drops) | {q:F2} | {q / a:F2} |");
            report.Line();
            report.Line($"Flood with the monitor against the flood without events: {f / q:F2}. " +
                        $"The monitor showed {events:N0} events and {lost:N0} lost over {Rounds} floods " +
                        $"(each flood runs {Seconds + 1} s: {(double)events / Rounds:F0} events per flood against the bound 100/s × {Seconds + 1} s + a burst of 200 = {100 * (Seconds + 1) + 200}).");
        }
        finally
        {
            if (server is { HasExited: false }) { server.Kill(); server.WaitForExit(); }
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
    }

    /// <summary>iperf3 a -> b while f floods c; the throughput and the flood's packets/s.</summary>
    private static (double Gbps, double Pps) WithFlood(LabRig lab)
    {
        var flood = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", lab.Namespace("f"), Paths.UdpFlood, "10.77.0.4", "7900",
            (Seconds + 1).ToString(CultureInfo.InvariantCulture), "7901", FloodPps.ToString(CultureInfo.InvariantCulture)])
        { RedirectStandardOutput = true })!;
        Thread.Sleep(300);
        var gbps = Iperf(lab);
        var output = flood.StandardOutput.ReadToEnd();
        flood.WaitForExit();
        if (flood.ExitCode != 0) throw new InvalidOperationException($"udp-flood exited {flood.ExitCode}");
        return (gbps, double.Parse(output.Trim().Split(' ')[1], CultureInfo.InvariantCulture));
    }

    private static double Iperf(LabRig lab)
    {
        var r = Shell.Run("ip", "netns", "exec", lab.Namespace("a"), "iperf3", "-c", "10.77.0.2", "-t", Seconds.ToString(CultureInfo.InvariantCulture), "-J");
        if (r.ExitCode != 0) throw new InvalidOperationException($"iperf3: {r.Stdout}{r.Stderr}");
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble() / 1e9;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>`microseg monitor --json` on the host, its lines counted.</summary>
    private sealed class Monitor : IDisposable
    {
        private readonly Process process;
        private long events, lost;

        private Monitor(Process process) => this.process = process;

        public static Monitor Start(LabRig lab, LabHost host)
        {
            var info = new ProcessStartInfo("ip", ["netns", "exec", lab.Namespace(host.Name), lab.MicrosegBinary, "monitor", "--json",
                "--config-dir", lab.ConfigDirectory, "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            var started = new ManualResetEventSlim();
            var monitor = new Monitor(new Process { StartInfo = info });
            monitor.process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                if (e.Data.StartsWith("{\"lost\":", StringComparison.Ordinal))
                    Interlocked.Add(ref monitor.lost, long.Parse(e.Data["{\"lost\":".Length..^1], CultureInfo.InvariantCulture));
                else Interlocked.Increment(ref monitor.events);
            };
            monitor.process.ErrorDataReceived += (_, e) => { if (e.Data?.StartsWith("microseg: monitoring", StringComparison.Ordinal) == true) started.Set(); };
            monitor.process.Start();
            monitor.process.BeginOutputReadLine();
            monitor.process.BeginErrorReadLine();
            if (!started.Wait(TimeSpan.FromSeconds(30))) throw new InvalidOperationException("microseg monitor did not start");
            return monitor;
        }

        public (long Events, long Lost) Stop()
        {
            Thread.Sleep(1200); // the last lost line
            Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            process.WaitForExit();
            return (events, lost);
        }

        public void Dispose()
        {
            if (!process.HasExited) { process.Kill(); process.WaitForExit(); }
            process.Dispose();
        }
    }
}
