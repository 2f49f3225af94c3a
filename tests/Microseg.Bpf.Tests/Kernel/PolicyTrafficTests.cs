// Real packets: two guests in namespaces of their own, their host-side veths on a bridge in a
// third namespace (the host) with policy_ingress/policy_egress attached in either mode (tcx
// links, or cls_bpf filters on the clsact qdisc): both must enforce alike. A ping needs the
// verdict both ways (ARP and ICMP replies travel from the destination's group back).
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class PolicyTrafficTests : IDisposable
{
    private const ushort Web = 11;
    private const ushort Db = 20;

    private readonly List<IDisposable> cleanup = [];
    private readonly TempNetns host;
    private readonly TempNetns guest1;
    private readonly TempNetns guest2;
    private readonly BpfObject policy;

    public PolicyTrafficTests()
    {
        try
        {
            var bpffs = Own(new TempBpffs());
            host = Own(new TempNetns());
            guest1 = Own(new TempNetns());
            guest2 = Own(new TempNetns());
            host.Run("link", "add", "br0", "type", "bridge");
            host.Run("link", "set", "br0", "up");
            foreach (var (guest, n) in new[] { (guest1, 1), (guest2, 2) })
            {
                host.Run("link", "add", $"h{n}", "type", "veth", "peer", "name", "eth0", "netns", guest.Name);
                host.Run("link", "set", $"h{n}", "master", "br0", "up");
                guest.Run("addr", "add", $"10.0.0.{n}/24", "dev", "eth0");
                guest.Run("link", "set", "eth0", "up");
            }
            policy = Own(PolicyObject.Load(bpffs));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        for (int i = cleanup.Count - 1; i >= 0; i--) cleanup[i].Dispose();
        cleanup.Clear();
    }

    [KernelTheory]
    [InlineData(AttachMode.Tcx)]
    [InlineData(AttachMode.Tc)]
    public void Traffic_flows_only_while_both_directions_are_allowed(AttachMode mode)
    {
        int h1 = host.IfIndex("h1"), h2 = host.IfIndex("h2");
        using var nics = PolicyObject.NicGroup(policy);
        using var verdicts = PolicyObject.Verdicts(policy);
        nics.Update((uint)h1, new NicInfo(Web));
        nics.Update((uint)h2, new NicInfo(Db));
        PolicyObject.Allow(verdicts, Web, Db);
        PolicyObject.Allow(verdicts, Db, Web);
        using var ingress = policy.Program(PolicyAbi.IngressProgram);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        foreach (int nic in new[] { h1, h2 })
        {
            cleanup.Add(host.Invoke(() => DeviceAttachment.Attach(mode, ingress, nic, HookDirection.Ingress)));
            cleanup.Add(host.Invoke(() => DeviceAttachment.Attach(mode, egress, nic, HookDirection.Egress)));
        }

        Assert.True(Ping(guest1, "10.0.0.2"), "web → db with both directions allowed");

        // Db's word for Web keeps another source's bit: the word is there, Db's bit is not.
        verdicts.Update(PolicyObject.WordOf(Db, Web), new VerdictValue(~PolicyObject.BitOf(Db)));
        Assert.False(Ping(guest1, "10.0.0.2"), "web → db with replies denied");

        Assert.True(verdicts.Delete(PolicyObject.WordOf(Db, Web)));
        Assert.False(Ping(guest1, "10.0.0.2"), "web → db with no verdict for replies");

        PolicyObject.Allow(verdicts, Db, Web);
        Assert.True(Ping(guest2, "10.0.0.1"), "db → web with both directions allowed again");
    }

    private static bool Ping(TempNetns from, string to)
    {
        try
        {
            TempNetns.Ip("netns", "exec", from.Name, "ping", "-c", "1", "-W", "1", "-q", to);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private T Own<T>(T disposable) where T : IDisposable
    {
        cleanup.Add(disposable);
        return disposable;
    }
}
