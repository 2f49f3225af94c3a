// The live verdict stream of this host: the records the policy programs write into the pinned
// `events` ring buffer (drops and audit passes always, new allowed flows while some monitor asks
// for them), decoded into VerdictEvents. The kernel limits events per NIC (a token bucket set in
// monitor_config) and counts what it could not deliver (refused by the bucket or by a full ring)
// per NIC in `monitor`; Lost is the growth of those counts since Open.
//
// The ring has one consumer position, so a host has one monitor at a time: each holds an
// exclusive flock on <run-dir>/policy/monitor.lock, and a second one is refused with a clear
// error instead of silently sharing (and splitting) the stream. Records already in the ring when
// a monitor opens (left from before, when nobody read) are skipped: the stream is live.
//
// One thread per reader polls the ring (100 ms at a time, so that cancellation is prompt) and
// hands decoded events to the async reader through a bounded channel; when the reader falls
// behind, the poller waits and the ring fills, and what the ring cannot take is counted as lost
// by the kernel rather than dropped silently here.
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microseg.Agent.Policy;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Policy;

namespace Microseg.Agent.Observe;

public sealed class VerdictMonitor : IAsyncDisposable
{
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);
    private const int Backlog = 4096;

    private readonly BpfMap events;
    private readonly BpfHashMap<uint, MonitorState> state;
    private readonly IVerdictNames names;
    private readonly KernelClock.MonotonicToWall clock = new();
    private readonly LostCount lost = new();
    private readonly MonitorFlowsSwitch? flowsSwitch;
    private readonly FileLock reader;
    private readonly ulong openedAt = KernelClock.MonotonicNanoseconds();
    private readonly bool flows;
    private readonly CancellationTokenSource closing = new();
    private readonly object gate = new();
    private Thread? poller;
    private int disposed;

    private VerdictMonitor(BpfMap events, BpfHashMap<uint, MonitorState> state, IVerdictNames names, FileLock reader, MonitorFlowsSwitch? flowsSwitch, bool flows)
    {
        this.reader = reader;
        this.events = events;
        this.state = state;
        this.names = names;
        this.flowsSwitch = flowsSwitch;
        this.flows = flows;
        lost.Start(LostByIfIndex());
    }

    /// <summary>True when new allowed flows are reported (as events with verdict "allow").</summary>
    public bool Flows => flows;

    /// <summary>Opens the policy subsystem's events of this host; with <paramref name="flows"/>,
    /// new allowed flows are reported too for as long as the monitor is open.</summary>
    /// <exception cref="AgentException">Nothing is loaded, or what is loaded has no events.</exception>
    public static VerdictMonitor Open(AgentOptions options, bool flows) => Open(options, flows, (PolicyConfig?)null);

    /// <summary>As <see cref="Open(AgentOptions, bool)"/>, naming groups from
    /// <paramref name="config"/> (the committed policy; null: groups show as their marks).</summary>
    public static VerdictMonitor Open(AgentOptions options, bool flows, PolicyConfig? config) =>
        Open(options, flows, new VerdictNames(options, config));

    /// <summary>As <see cref="Open(AgentOptions, bool)"/>, with the given name resolution.</summary>
    public static VerdictMonitor Open(AgentOptions options, bool flows, IVerdictNames names)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(names);
        var pins = new PolicyPins(options.BpffsFor(PolicySubsystem.SubsystemName));
        BpfMap? events = null;
        BpfHashMap<uint, MonitorState>? state = null;
        MonitorFlowsSwitch? flowsSwitch = null;
        FileLock? reader = null;
        try
        {
            events = OpenPin(pins.Events, pins, map => map);
            state = OpenPin(pins.Monitor, pins, map => new BpfHashMap<uint, MonitorState>(map));
            var readerLock = Path.Combine(options.RunFor(PolicySubsystem.SubsystemName), "monitor.lock");
            try { reader = FileLock.Exclusive(readerLock, TimeSpan.Zero); }
            catch (TimeoutException)
            {
                throw new AgentException($"another monitor is reading this host's verdict events (it holds {readerLock}); one monitor at a time, as the kernel's ring has one reader");
            }
            if (flows)
            {
                if (!File.Exists(pins.MonitorConfig)) throw NotLoaded(pins, pins.MonitorConfig);
                flowsSwitch = MonitorFlowsSwitch.TurnOn(options);
            }
            return new VerdictMonitor(events, state, names, reader, flowsSwitch, flows);
        }
        catch
        {
            flowsSwitch?.Dispose();
            reader?.Dispose();
            state?.Dispose();
            events?.Dispose();
            throw;
        }
    }

    /// <summary>Events the kernel could not deliver since Open (refused by a NIC's rate limit or
    /// by a full ring), on every NIC of the host.</summary>
    public ulong Lost => lost.Since(LostByIfIndex(), _ => true);

    /// <summary>As <see cref="Lost"/>, on the NICs <paramref name="nic"/> accepts (by name; a NIC
    /// the host cannot name any more is "if:N").</summary>
    public ulong LostOn(Func<string, bool> nic) =>
        lost.Since(LostByIfIndex(), ifindex => nic(names.Nic((int)ifindex) ?? VerdictEvent.UnknownNic(ifindex)));

    /// <summary>The events as they come, until <paramref name="cancel"/> fires or the monitor is
    /// disposed; then the sequence ends (no exception). One reader at a time.</summary>
    public async IAsyncEnumerable<VerdictEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancel)
    {
        ObjectDisposedException.ThrowIf(disposed != 0, this);
        var channel = Channel.CreateBounded<VerdictEvent>(new BoundedChannelOptions(Backlog)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, closing.Token);
        var thread = new Thread(() => Poll(channel.Writer, stop.Token)) { IsBackground = true, Name = "microseg verdict monitor" };
        lock (gate)
        {
            if (poller is not null) throw new InvalidOperationException("the monitor has a reader already");
            ObjectDisposedException.ThrowIf(disposed != 0, this);
            poller = thread;
        }
        thread.Start();
        try
        {
            while (true)
            {
                bool more;
                try { more = await channel.Reader.WaitToReadAsync(stop.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { yield break; }
                if (!more) yield break;
                while (channel.Reader.TryRead(out var e)) yield return e;
            }
        }
        finally
        {
            stop.Cancel();
            thread.Join();
            lock (gate) poller = null;
        }
    }

    /// <summary>Stops the reader, closes the ring and, for a monitor of flows, turns the flows
    /// report off unless another monitor still wants it.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return ValueTask.CompletedTask;
        closing.Cancel();
        Thread? running;
        lock (gate) running = poller;
        running?.Join();
        flowsSwitch?.Dispose();
        state.Dispose();
        events.Dispose();
        reader.Dispose();
        closing.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Poll(ChannelWriter<VerdictEvent> writer, CancellationToken stop)
    {
        var pending = new List<VerdictEvent>();
        try
        {
            using var ring = BpfRingBuffer.Open(events, record =>
            {
                var e = MonitorEvent.Read(record);
                if (e.TimeNs < openedAt) return; // left in the ring from before this monitor
                // Allowed flows are in the ring while any monitor of this host asked for them.
                if (e.Verdict == PolicyAbi.MonVerdictAllow && !flows) return;
                pending.Add(VerdictEvent.From(e, names, clock));
            });
            while (!stop.IsCancellationRequested)
            {
                ring.Poll(PollSlice);
                foreach (var e in pending)
                    while (!writer.TryWrite(e))
                        if (!writer.WaitToWriteAsync(stop).AsTask().GetAwaiter().GetResult()) return;
                pending.Clear();
            }
            writer.TryComplete();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    private Dictionary<uint, ulong> LostByIfIndex()
    {
        var lost = new Dictionary<uint, ulong>();
        foreach (var (ifindex, s) in state.Entries()) lost[ifindex] = s.Lost;
        return lost;
    }

    private static T OpenPin<T>(string pin, PolicyPins pins, Func<BpfMap, T> view)
    {
        BpfMap map;
        try { map = BpfMap.OpenPinned(pin); }
        catch (BpfException e) when (e.Errno == Errno.ENOENT) { throw NotLoaded(pins, pin); }
        try { return view(map); }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    private static AgentException NotLoaded(PolicyPins pins, string missing) =>
        File.Exists(pins.IngressProgram)
            ? new AgentException($"the policy programs loaded under {pins.Root} have no {Path.GetFileName(missing)} map (an older version): run 'microseg apply' to load this version's")
            : new AgentException($"nothing to monitor: no policy programs are loaded under {pins.Root} (run 'microseg apply' or the agent)");
}
