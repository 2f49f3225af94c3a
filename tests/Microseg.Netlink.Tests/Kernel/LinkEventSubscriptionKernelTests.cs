// LinkEventSubscription against the real kernel, in a namespace of the test's own: what `ip`
// does there comes back as typed events, a lost notification as a resync that agrees with
// `ip link`, and a waiting Read ends on cancellation or Dispose from another thread.
using Microseg.TestSupport;

namespace Microseg.Netlink.Tests.Kernel;

public sealed class LinkEventSubscriptionKernelTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly TestNamespace ns = new();

    public void Dispose() => ns.Dispose();

    private LinkEventSubscription Subscribe(int receiveBufferBytes = LinkEventSubscription.DefaultReceiveBufferBytes) =>
        NetworkNamespace.Run(ns.Name, () => LinkEventSubscription.Open(receiveBufferBytes));

    /// <summary>Opens a subscription and consumes its first event, the starting table.</summary>
    private LinkEventSubscription SubscribeStarted()
    {
        var subscription = Subscribe();
        Assert.Equal(LinkResyncReason.Subscribed, Assert.IsType<LinkResync>(Assert.Single(subscription.Read())).Reason);
        return subscription;
    }

    /// <summary>Reads until <paramref name="done"/> holds for what was read so far.</summary>
    private static List<LinkEvent> ReadUntil(LinkEventSubscription subscription, Func<List<LinkEvent>, bool> done)
    {
        var events = new List<LinkEvent>();
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            while (!done(events)) events.AddRange(subscription.Read(timeout.Token));
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"not there after {Patience.TotalSeconds} s; read: {string.Join(", ", events)}");
        }
        return events;
    }

    private static IEnumerable<LinkInfo> Updates(IEnumerable<LinkEvent> events, string name) =>
        events.OfType<LinkUpdated>().Select(u => u.Link).Where(l => l.Name == name);

    [KernelFact]
    public void The_first_read_is_every_link_and_agrees_with_ip_link()
    {
        ns.Ip("link", "add", "br0", "type", "bridge");
        ns.Ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
        using var subscription = Subscribe();

        var resync = Assert.IsType<LinkResync>(Assert.Single(subscription.Read()));

        Assert.Equal(LinkResyncReason.Subscribed, resync.Reason);
        IpLinkJson.AssertMatches(ns.IpLinks(), resync.Links);
    }

    [KernelFact]
    public void The_default_receive_buffer_is_granted_beyond_rmem_max()
    {
        using var subscription = Subscribe();
        // The kernel reports twice what it was asked for; SO_RCVBUFFORCE (we are root) skips the
        // net.core.rmem_max cap (212992 by default).
        Assert.Equal(2 * LinkEventSubscription.DefaultReceiveBufferBytes, subscription.ReceiveBufferBytes);
    }

    [KernelFact]
    public void Creating_a_veth_pair_reports_both_ends_with_their_ifindex()
    {
        using var subscription = SubscribeStarted();

        ns.Ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
        var events = ReadUntil(subscription, e => Updates(e, "veth0").Any() && Updates(e, "veth1").Any());

        var veth0 = Updates(events, "veth0").First();
        var veth1 = Updates(events, "veth1").First();
        Assert.Equal((ns.IfIndex("veth0"), "veth"), (veth0.IfIndex, veth0.Kind));
        Assert.Equal((ns.IfIndex("veth1"), "veth"), (veth1.IfIndex, veth1.Kind));
        Assert.Equal(veth1.IfIndex, veth0.LinkIfIndex);
    }

    [KernelFact]
    public void Setting_a_link_up_reports_the_change()
    {
        ns.Ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
        using var subscription = SubscribeStarted();

        ns.Ip("link", "set", "veth0", "up");
        var events = ReadUntil(subscription, e => Updates(e, "veth0").Any(l => l.IsUp));

        Assert.Equal(ns.IfIndex("veth0"), Updates(events, "veth0").First(l => l.IsUp).IfIndex);
        Assert.DoesNotContain(events, e => e is LinkDeleted or LinkResync);
    }

    [KernelFact]
    public void Deleting_one_end_reports_both_ends_deleted()
    {
        ns.Ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
        int veth0 = ns.IfIndex("veth0"), veth1 = ns.IfIndex("veth1");
        using var subscription = SubscribeStarted();

        ns.Ip("link", "del", "veth0");
        var events = ReadUntil(subscription, e => e.OfType<LinkDeleted>().Count() == 2);

        Assert.Equal([new LinkDeleted(veth0, "veth0"), new LinkDeleted(veth1, "veth1")],
            events.OfType<LinkDeleted>().OrderBy(d => d.Name));
    }

    [KernelFact]
    public void A_port_leaving_its_bridge_is_not_reported_deleted()
    {
        ns.Ip("link", "add", "br0", "type", "bridge");
        ns.Ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1");
        using var subscription = SubscribeStarted();

        ns.Ip("link", "set", "veth0", "master", "br0");
        ns.Ip("link", "set", "veth0", "nomaster");
        // A link made afterwards marks the end of what the two changes produce.
        ns.Ip("link", "add", "marker0", "type", "bridge");
        var events = ReadUntil(subscription, e => Updates(e, "marker0").Any());

        Assert.Contains(Updates(events, "veth0"), l => l.MasterIfIndex == ns.IfIndex("br0"));
        Assert.DoesNotContain(events, e => e is LinkDeleted);
    }

    [KernelFact]
    public void Lost_notifications_are_reported_as_a_resync_that_agrees_with_ip_link()
    {
        // The smallest buffer the kernel allows (it raises 1 to its minimum) holds a handful of
        // notifications; 200 veth pairs send several hundred while nobody reads.
        using var subscription = Subscribe(receiveBufferBytes: 1);
        Assert.True(subscription.ReceiveBufferBytes < 16 * 1024, $"receive buffer {subscription.ReceiveBufferBytes} bytes");
        Assert.IsType<LinkResync>(Assert.Single(subscription.Read()));

        ns.IpBatch(Enumerable.Range(0, 200).Select(i => $"link add va{i} type veth peer name vb{i}"));
        var events = ReadUntil(subscription, e => e.OfType<LinkResync>().Any());

        var resync = events.OfType<LinkResync>().Single();
        Assert.Equal(LinkResyncReason.EventsLost, resync.Reason);
        Assert.Equal(401, resync.Links.Count);
        IpLinkJson.AssertMatches(ns.IpLinks(), resync.Links);
    }

    [KernelFact]
    public void A_cancelled_read_ends_promptly_and_the_subscription_reads_on()
    {
        using var subscription = SubscribeStarted();
        using var cancel = new CancellationTokenSource();
        Exception? failure = null;
        var reader = new Thread(() => failure = Record(() => subscription.Read(cancel.Token)));
        reader.Start();
        Thread.Sleep(200);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        cancel.Cancel();
        Assert.True(reader.Join(TimeSpan.FromSeconds(5)), "Read still waiting 5 s after cancellation");

        Assert.IsType<OperationCanceledException>(failure);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"Read took {clock.Elapsed} to see the cancellation");
        ns.Ip("link", "add", "after0", "type", "bridge");
        Assert.NotEmpty(Updates(ReadUntil(subscription, e => Updates(e, "after0").Any()), "after0"));
    }

    [KernelFact]
    public void Dispose_from_another_thread_ends_a_waiting_read()
    {
        var subscription = SubscribeStarted();
        Exception? failure = null;
        var reader = new Thread(() => failure = Record(() => subscription.Read()));
        reader.Start();
        Thread.Sleep(200);

        subscription.Dispose();

        Assert.True(reader.Join(TimeSpan.FromSeconds(5)), "Read still waiting 5 s after Dispose");
        Assert.IsType<ObjectDisposedException>(failure);
        Assert.Throws<ObjectDisposedException>(() => subscription.Read());
    }

    private static Exception? Record(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
