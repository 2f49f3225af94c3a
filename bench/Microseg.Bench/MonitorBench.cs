// monitor-flood: does a flood of denied packets towards one guest, with `microseg monitor`
// running, cost the allowed traffic between two other guests? iperf3 a -> b (allowed) alone and
// while f floods c (denied: every packet is a drop and a candidate event; the kernel's bucket
// lets 100/s through to the ring and counts the rest as lost). Rounds alternate; the ratio is
// within the same run. A third case floods with events off (rate 0) to tell the monitor's share
// from the flood's own cost (the drops themselves, and the sender's CPU on this machine).
// On a host the flooding guest runs on its own vCPU; here it is a process that competes with
// iperf3 for the same two cores. So every case runs twice: sharing both cores (what the
// machine does by itself), and with the cores split as a hypervisor would split them: the
// flooding guest, its drops (veth processes a packet on the sender's CPU) and the monitor on
// CPU 0, the iperf3 pair and its packets on CPU 1.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microseg.Lab;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Bench;

public static class MonitorBench
{
    private const int FloodPps = 100_000, Seconds = 3, Rounds = 9;

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
            var shared = new Cases();
            var split = new Cases();
            bool canSplit = Environment.ProcessorCount >= 2;
            for (int round = 0; round < Rounds; round++)
            {
                Measure(lab, host, server!, shared, Cpus.Shared);
                if (canSplit) Measure(lab, host, server!, split, Cpus.Split);
            }
            report.Line($"TCP a -> b (allowed; iperf3, {Seconds} s) while guest f floods guest c with denied UDP " +
                        $"(target {FloodPps:N0} packets/s, reached {Median(shared.Pps):N0}/s median sharing the cores" +
                        (canSplit ? $", {Median(split.Pps):N0}/s on its own core" : "") + "), `microseg monitor --json` running; " +
                        $"{Rounds} rounds, cases alternating, median. {Environment.ProcessorCount} cores.");
            report.Line();
            report.Line("| cores | case | Gbit/s (median) | × no flood (median of the rounds' ratios) |");
            report.Line("|---|---|---:|---:|");
            shared.Rows(report, "shared (2 cores for all)");
            if (canSplit) split.Rows(report, "split (flood on CPU 0, iperf3 on CPU 1)");
            report.Line();
            if (canSplit)
                report.Line($"With the flooding guest on its own core, the allowed pair keeps {split.Ratio:F2}× its throughput (goal ≥ 0.90); " +
                            $"sharing the cores with the sender, {shared.Ratio:F2}× (the sender's own CPU, not the drops: events off gives {shared.QuietRatio:F2}×).");
            long events = shared.Events + split.Events, lost = shared.Lost + split.Lost;
            int floods = Rounds * (canSplit ? 2 : 1);
            double floodSeconds = shared.FloodSeconds + split.FloodSeconds;
            report.Line($"The monitor showed {events:N0} events of the flooded NIC and {lost:N0} lost over {floods} floods of {floodSeconds / floods:F2} s each " +
                        $"(the sender's own clock): {(double)events / floods:F0} events per flood against the bucket's bound, 100/s × {floodSeconds / floods:F2} s + a burst of 200 = {100 * floodSeconds / floods + 200:F0}.");
        }
        finally
        {
            if (server is { HasExited: false }) { server.Kill(); server.WaitForExit(); }
            LabRig.Down(spec.Name);
        }
        return Task.CompletedTask;
    }

    private enum Cpus { Shared, Split }

    /// <summary>The three cases of one round, with the CPUs given: no flood, flood with the
    /// monitor reading 100 events/s per NIC, flood with events off.</summary>
    private static void Measure(LabRig lab, LabHost host, Process server, Cases cases, Cpus cpus)
    {
        // The running server follows the pair: CPU 1 when split, both otherwise.
        Shell.Check("taskset", "-a", "-c", "-p", cpus == Cpus.Split ? "1" : "0-1", server.Id.ToString(CultureInfo.InvariantCulture));
        lab.MicrosegResult(host, new Dictionary<string, string> { ["MICROSEG_MONITOR_RATE"] = "100" }, "apply");
        using (var monitor = Monitor.Start(lab, host, cpus, lab.Spec.Guests.First(g => g.Name == "c").HostNic))
        {
            cases.Alone.Add(Iperf(lab, cpus));
            var (gbps, rate, seconds) = WithFlood(lab, cpus);
            cases.Flooded.Add(gbps);
            cases.Pps.Add(rate);
            cases.FloodSeconds += seconds;
            var (e, l) = monitor.Stop();
            cases.Events += e;
            cases.Lost += l;
        }
        // Events off: the same flood, only the drops.
        lab.MicrosegResult(host, new Dictionary<string, string> { ["MICROSEG_MONITOR_RATE"] = "0" }, "apply");
        cases.Quiet.Add(WithFlood(lab, cpus).Gbps);
    }

    private sealed class Cases
    {
        public List<double> Alone { get; } = [];
        public List<double> Flooded { get; } = [];
        public List<double> Quiet { get; } = [];
        public List<double> Pps { get; } = [];
        public long Events { get; set; }
        public long Lost { get; set; }
        public double FloodSeconds { get; set; }
        // Each round's flooded rate over the same round's rate alone, the median of those: the
        // machine's drift between rounds (±15 % here) cancels out.
        public double Ratio => Median([.. Flooded.Zip(Alone, (f, a) => f / a)]);
        public double QuietRatio => Median([.. Quiet.Zip(Alone, (q, a) => q / a)]);

        public void Rows(Report report, string cores)
        {
            report.Line($"| {cores} | no flood, monitor running (baseline) | {Median(Alone):F2} | 1.00 |");
            report.Line($"| {cores} | flood, monitor running, 100 events/s per NIC | {Median(Flooded):F2} | {Ratio:F2} |");
            report.Line($"| {cores} | flood, events off (rate 0: only the drops) | {Median(Quiet):F2} | {QuietRatio:F2} |");
        }
    }

    /// <summary>`taskset -c CPU` before a command when the cores are split.</summary>
    private static string[] On(Cpus cpus, int cpu, params string[] command) =>
        cpus == Cpus.Split ? ["taskset", "-c", cpu.ToString(CultureInfo.InvariantCulture), .. command] : command;

    /// <summary>iperf3 a -> b while f floods c; the throughput and the flood's packets/s.</summary>
    private static (double Gbps, double Pps, double Seconds) WithFlood(LabRig lab, Cpus cpus)
    {
        var flood = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", lab.Namespace("f"), .. On(cpus, 0, Paths.UdpFlood, "10.77.0.4", "7900",
            (Seconds + 1).ToString(CultureInfo.InvariantCulture), "7901", FloodPps.ToString(CultureInfo.InvariantCulture))])
        { RedirectStandardOutput = true })!;
        Thread.Sleep(300);
        var gbps = Iperf(lab, cpus);
        var output = flood.StandardOutput.ReadToEnd();
        flood.WaitForExit();
        if (flood.ExitCode != 0) throw new InvalidOperationException($"udp-flood exited {flood.ExitCode}");
        var fields = output.Trim().Split(' ');
        double sent = double.Parse(fields[0], CultureInfo.InvariantCulture), rate = double.Parse(fields[1], CultureInfo.InvariantCulture);
        return (gbps, rate, rate > 0 ? sent / rate : 0);
    }

    private static double Iperf(LabRig lab, Cpus cpus)
    {
        var r = Shell.Run("ip", ["netns", "exec", lab.Namespace("a"), .. On(cpus, 1, "iperf3", "-c", "10.77.0.2", "-t", Seconds.ToString(CultureInfo.InvariantCulture), "-J")]);
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

        /// <summary>Counts the events of <paramref name="floodedNic"/> (and every lost line).</summary>
        public static Monitor Start(LabRig lab, LabHost host, Cpus cpus, string floodedNic)
        {
            var info = new ProcessStartInfo("ip", ["netns", "exec", lab.Namespace(host.Name), .. On(cpus, 0, lab.MicrosegBinary, "monitor", "--json",
                "--config-dir", lab.ConfigDirectory, "--bpffs", lab.BpffsRoot(host), "--run-dir", lab.RunDirectory(host), "--node", host.Name)])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            var started = new ManualResetEventSlim();
            var monitor = new Monitor(new Process { StartInfo = info });
            monitor.process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                if (e.Data.StartsWith("{\"lost\":", StringComparison.Ordinal))
                    Interlocked.Add(ref monitor.lost, long.Parse(e.Data["{\"lost\":".Length..^1], CultureInfo.InvariantCulture));
                else if (e.Data.Contains($"\"nic\":\"{floodedNic}\"", StringComparison.Ordinal)) Interlocked.Increment(ref monitor.events);
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
            // SIGTERM: a bench started in the background inherits SIGINT ignored.
            Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
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
