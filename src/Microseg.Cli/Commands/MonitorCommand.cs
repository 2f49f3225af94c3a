// `microseg monitor [--json] [--flows] [--group G] [--nic IFACE] [--verdict drop|allow|audit]`:
// the live verdict stream of this host, one line per event, until Ctrl-C or SIGTERM (exit 0).
// Drops (and audit passes) always; new allowed flows with --flows. The kernel rate-limits events
// per NIC; what it could not deliver is shown as a line of its own when it happens.
using System.CommandLine;
using System.Runtime.InteropServices;
using Microseg.Agent.Observe;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class MonitorCommand : Command
{
    private static readonly TimeSpan LostCheck = TimeSpan.FromSeconds(1);

    public MonitorCommand(Io io) : base("monitor", "Show this host's verdicts live: drops with the deciding rule (or default-deny, reply, infra), audit passes and, with --flows, new allowed flows; Ctrl-C ends")
    {
        var json = new Option<bool>("--json") { Description = "One JSON object per line; events the kernel could not deliver as {\"lost\":N}" };
        var flows = new Option<bool>("--flows") { Description = "Also show new allowed flows (TCP SYN, ICMP echo request) while the monitor runs" };
        var group = new Option<string?>("--group") { Description = "Only events whose source or destination group is G", HelpName = "G" };
        var nic = new Option<string?>("--nic") { Description = "Only events of packets to this guest NIC (tap{vmid}i{n} or veth{vmid}i{n})", HelpName = "IFACE" };
        var verdict = new Option<string?>("--verdict") { Description = "Only events of this verdict (allow implies --flows)", HelpName = "drop|allow|audit" };
        verdict.AcceptOnlyFromAmong(VerdictEvent.Drop, VerdictEvent.Allow, VerdictEvent.Audit);
        Options.Add(json);
        Options.Add(flows);
        Options.Add(group);
        Options.Add(nic);
        Options.Add(verdict);
        AgentOptionSet.AddTo(this);
        SetAction(parse =>
        {
            var (groupName, nicName, verdictName) = (parse.GetValue(group), parse.GetValue(nic), parse.GetValue(verdict));
            // Group names come from the committed policy; without one, groups show as their marks.
            PolicyConfig? config;
            if (groupName is not null)
            {
                config = AgentOptionSet.Snapshot(parse);
                if (!config.Groups.ContainsKey(groupName))
                    throw new UserException($"--group {groupName}: no such group in the committed configuration");
            }
            else
            {
                try { config = MicrosegRootCommand.Store(parse).ReadRunning()?.Config; }
                catch (ConfigException) { config = null; }
            }
            if (nicName is not null && !File.Exists(Path.Combine("/sys/class/net", nicName, "ifindex")))
                throw new UserException($"--nic {nicName}: no such interface on this host");
            var filter = new MonitorFilter(groupName, nicName, verdictName);
            bool wantFlows = parse.GetValue(flows) || verdictName == VerdictEvent.Allow;
            var options = AgentOptionSet.Options(parse);
            // Ctrl-C, SIGTERM and SIGHUP end the stream (and the monitor is disposed: the flows
            // flag is cleared) from the moment the start line can be seen.
            using var stop = new CancellationTokenSource();
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; stop.Cancel(); });
            var monitor = VerdictMonitor.Open(options, wantFlows, config);
            // On stderr, so that stdout stays the events alone; a caller can wait for this line.
            io.Err.WriteLine($"microseg: monitoring the verdicts of {options.Node}{(wantFlows ? " and its new allowed flows" : "")} (Ctrl-C ends)");
            io.Err.Flush();
            return Run(monitor, filter, parse.GetValue(json) ? new JsonLines(io.Out) : new TextLines(io.Out), stop).GetAwaiter().GetResult();
        });
    }

    private static async Task<int> Run(VerdictMonitor monitor, MonitorFilter filter, ILines output, CancellationTokenSource stop)
    {
        await using var _ = monitor.ConfigureAwait(false);
        var gate = new object();
        ulong lostShown = 0;
        void ShowLost()
        {
            ulong lost = filter.Nic is { } nic ? monitor.LostOn(n => n == nic) : monitor.Lost;
            lock (gate)
            {
                if (lost <= lostShown) return;
                output.Lost(lost - lostShown);
                lostShown = lost;
            }
        }
        // Lost events show up even while nothing else is printed.
        var watch = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(LostCheck);
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false)) ShowLost();
            }
            catch (OperationCanceledException) { }
        });
        try
        {
            var lastCheck = DateTime.UtcNow;
            await foreach (var e in monitor.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                if (DateTime.UtcNow - lastCheck >= TimeSpan.FromMilliseconds(200))
                {
                    ShowLost();
                    lastCheck = DateTime.UtcNow;
                }
                if (!filter.Accepts(e)) continue;
                lock (gate) output.Event(e);
            }
            ShowLost();
        }
        catch (IOException)
        {
            // The reader went away (a closed pipe): nothing more to show.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try { await watch.ConfigureAwait(false); }
            catch (IOException) { }
        }
        return ExitCodes.Ok;
    }

    /// <summary>Which events are shown: all when a part is null.</summary>
    internal sealed record MonitorFilter(string? Group, string? Nic, string? Verdict)
    {
        public bool Accepts(VerdictEvent e) =>
            (Group is null || e.SrcGroup == Group || e.DstGroup == Group)
            && (Nic is null || e.Nic == Nic)
            && (Verdict is null || e.Verdict == Verdict);
    }

    private interface ILines
    {
        void Event(VerdictEvent e);
        void Lost(ulong count);
    }

    private sealed class JsonLines(TextWriter output) : ILines
    {
        public void Event(VerdictEvent e) => Write(VerdictEventJson.Line(e));

        public void Lost(ulong count) => Write(VerdictEventJson.LostLine(count));

        private void Write(string line)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    /// <summary>14:00:00.123  tap100i0  web → db  tcp 10.0.0.1:40000 → 10.0.0.2:22  drop  default-deny  74 B</summary>
    private sealed class TextLines(TextWriter output) : ILines
    {
        public void Event(VerdictEvent e)
        {
            string src = e.SrcGroup ?? "(untagged)";
            string addresses = e.Src is null ? "not IP" : $"{e.Proto} {Endpoint(e.Src, e.Sport)} → {Endpoint(e.Dst!, e.Dport)}";
            output.WriteLine($"{e.Time.UtcDateTime:HH:mm:ss.fff}  {e.Nic}  {src} → {e.DstGroup}  {addresses}  {e.Verdict}  {e.Reason}  {e.Length} B");
            output.Flush();
        }

        public void Lost(ulong count)
        {
            output.WriteLine($"… {count} event{(count == 1 ? "" : "s")} lost (rate limit or full ring)");
            output.Flush();
        }

        private static string Endpoint(string address, int? port) =>
            port is not { } p ? address : address.Contains(':') ? $"[{address}]:{p}" : $"{address}:{p}";
    }
}
