// Keeps the resident agent's InterfaceTable current from rtnetlink link events, on a thread of
// its own with blocking reads (netlink work never runs on the thread pool), and hands the
// actions the events ask for to the agent's worker.
using Microseg.Agent.Subsystems;
using Microseg.Netlink;

namespace Microseg.Agent.Resident;

public sealed class LinkWatcher : IDisposable
{
    private readonly InterfaceTable table;
    private readonly Action<IReadOnlyList<LinkAction>> post;
    private readonly Action<Exception> failed;
    private readonly CancellationTokenSource stop = new();
    private LinkEventSubscription? subscription;
    private Thread? thread;

    /// <param name="post">Called on the watcher's thread with the actions of each batch of events.</param>
    /// <param name="failed">Called once when the subscription cannot go on (the agent exits).</param>
    public LinkWatcher(InterfaceTable table, Action<IReadOnlyList<LinkAction>> post, Action<Exception> failed)
    {
        this.table = table;
        this.post = post;
        this.failed = failed;
    }

    /// <summary>Subscribes and fills the table from the first dump before returning, so the
    /// first apply sees every link; later events arrive on the watcher's thread.</summary>
    /// <exception cref="NetlinkException">the subscription or its first dump failed.</exception>
    public void Start()
    {
        Exception? startFailure = null;
        using var started = new ManualResetEventSlim();
        thread = new Thread(() =>
        {
            LinkEventSubscription events;
            try
            {
                subscription = events = LinkEventSubscription.Open();
                foreach (var e in events.Read(stop.Token))
                    if (e is LinkResync r) table.Replace(r.Links);
            }
            catch (Exception e) when (e is NetlinkException)
            {
                startFailure = e;
                return;
            }
            finally
            {
                started.Set();
            }
            Loop(events);
        })
        { IsBackground = true, Name = "link events" };
        thread.Start();
        started.Wait();
        if (startFailure is not null) throw startFailure;
    }

    private void Loop(LinkEventSubscription events)
    {
        try
        {
            while (true)
            {
                var batch = events.Read(stop.Token);
                var actions = LinkEventActions.Apply(batch, table);
                if (actions.Count > 0) post(actions);
            }
        }
        catch (OperationCanceledException) { /* stopping */ }
        catch (ObjectDisposedException) { /* stopping */ }
        catch (NetlinkException e)
        {
            failed(e);
        }
    }

    public void Dispose()
    {
        stop.Cancel();
        thread?.Join();
        subscription?.Dispose();
        stop.Dispose();
    }
}
