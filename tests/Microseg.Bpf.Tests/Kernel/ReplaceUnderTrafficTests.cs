// Swapping the programs of live attachments, in either mode, under two UDP streams between two
// guests on a bridge: one the policy allows (every datagram must arrive) and one it denies (none
// may). The two program sets come from two loads of the policy object over the same pinned maps,
// as an upgrade has them. Neighbours are static so that the denied direction needs no ARP reply.
using System.Net;
using System.Text.Json;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class ReplaceUnderTrafficTests : IDisposable
{
    private const ushort Web = 11;
    private const ushort Db = 20;

    private readonly List<IDisposable> cleanup = [];
    private readonly TempNetns host;
    private readonly TempNetns guest1;
    private readonly TempNetns guest2;
    private readonly BpfObject first;
    private readonly BpfObject second;

    public ReplaceUnderTrafficTests()
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
            guest1.Run("neigh", "add", "10.0.0.2", "lladdr", Mac(guest2), "dev", "eth0", "nud", "permanent");
            guest2.Run("neigh", "add", "10.0.0.1", "lladdr", Mac(guest1), "dev", "eth0", "nud", "permanent");
            first = Own(PolicyObject.Load(bpffs));
            second = Own(PolicyObject.Load(bpffs)); // the same pinned maps, programs of its own
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
    public void Replacing_programs_loses_no_allowed_datagram_and_passes_no_denied_one(AttachMode mode)
    {
        int h1 = host.IfIndex("h1"), h2 = host.IfIndex("h2");
        using var nics = PolicyObject.NicGroup(first);
        using var verdicts = PolicyObject.Verdicts(first);
        nics.Update((uint)h1, new NicInfo(Web));
        nics.Update((uint)h2, new NicInfo(Db));
        PolicyObject.Allow(verdicts, Web, Db); // web -> db allowed; db -> web has no bit: denied
        var programs = new[] { first, second }
            .Select(o => (Ingress: Own(o.Program(PolicyAbi.IngressProgram)), Egress: Own(o.Program(PolicyAbi.EgressProgram))))
            .ToArray();
        Assert.NotEqual(programs[0].Egress.Info().Id, programs[1].Egress.Info().Id);
        var attachments = new List<(IDeviceAttachment Attachment, bool Ingress)>();
        foreach (int nic in new[] { h1, h2 })
        {
            attachments.Add((Own(host.Invoke(() => DeviceAttachment.Attach(mode, programs[0].Ingress, nic, HookDirection.Ingress))), true));
            attachments.Add((Own(host.Invoke(() => DeviceAttachment.Attach(mode, programs[0].Egress, nic, HookDirection.Egress))), false));
        }

        // At least 40 rounds of swapping every attachment while each stream sends at least 5,000
        // datagrams: a busy machine stretches the run rather than thinning it.
        const int Rounds = 40;
        const long Datagrams = 5_000;
        int swaps = 0;
        using (var allowed = new UdpStream(guest1, guest2, IPAddress.Parse("10.0.0.2"), 7001))
        using (var denied = new UdpStream(guest2, guest1, IPAddress.Parse("10.0.0.1"), 7002))
        {
            while (swaps < Rounds || allowed.Sent <= Datagrams || denied.Sent <= Datagrams)
            {
                var next = programs[++swaps % 2];
                host.Invoke(() =>
                {
                    foreach (var (attachment, ingress) in attachments)
                        attachment.Update(ingress ? next.Ingress : next.Egress);
                    return 0;
                });
                Thread.Sleep(5);
            }

            var (aSent, aReceived) = allowed.Stop();
            var (dSent, dReceived) = denied.Stop();
            Assert.True(aSent > Datagrams, $"the allowed stream ran ({aSent} sent)");
            Assert.Equal(aSent, aReceived);
            Assert.True(dSent > Datagrams, $"the denied stream ran ({dSent} sent)");
            Assert.Equal(0, dReceived);
        }

        var last = programs[swaps % 2];
        foreach (var (attachment, ingress) in attachments)
            Assert.Equal((ingress ? last.Ingress : last.Egress).Info().Id, host.Invoke(attachment.AttachedProgramId));
    }

    private static string Mac(TempNetns guest)
    {
        using var json = JsonDocument.Parse(guest.Run("-j", "link", "show", "dev", "eth0"));
        return json.RootElement[0].GetProperty("address").GetString()!;
    }

    private T Own<T>(T disposable) where T : IDisposable
    {
        cleanup.Add(disposable);
        return disposable;
    }
}
