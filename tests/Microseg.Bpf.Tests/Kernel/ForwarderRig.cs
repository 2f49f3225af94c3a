// Loads out/bpf/forwarder.bpf.o (built by `make bpf`) with its maps unpinned, and the veths of a
// forwarder in a test's network namespace: a router link (rt/rtp) and two physical links
// (p1/p1p, p2/p2p), registered in the maps the way the agent does it.
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

internal sealed class ForwarderRig : IDisposable
{
    private readonly List<IDisposable> owned = [];

    public ForwarderRig()
    {
        try
        {
            Netns = Own(new TempNetns());
            // No IPv6 in this namespace: links coming up send router solicitations and MLD
            // reports, which would count as frames the tests did not send.
            TempNetns.Ip("netns", "exec", Netns.Name, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            foreach (var (a, b) in new[] { ("rt", "rtp"), ("p1", "p1p"), ("p2", "p2p") })
            {
                Netns.Run("link", "add", a, "type", "veth", "peer", "name", b);
                Netns.Run("link", "set", a, "up");
                Netns.Run("link", "set", b, "up");
            }
            Router = Netns.IfIndex("rt");
            P1 = Netns.IfIndex("p1");
            P2 = Netns.IfIndex("p2");
            string path = RepoPaths.BpfObject(ForwarderAbi.ObjectFile);
            Assert.True(File.Exists(path), $"{path} is missing: run `make bpf` first");
            Object = Own(BpfObject.OpenMemory(File.ReadAllBytes(path), "forwarder"));
            Object.Load();
            Physical = Own(Object.Program(ForwarderAbi.PhysicalProgram));
            RouterProgram = Own(Object.Program(ForwarderAbi.RouterProgram));
            Pass = Own(Object.Program(ForwarderAbi.PassProgram));
            Ports = Own(new BpfHashMap<uint, ForwarderPort>(Object.Map(ForwarderAbi.PortsMap)));
            Routers = Own(new BpfDevMap(Object.Map(ForwarderAbi.RoutersMap)));
            Vlans = Own(new BpfDevMap(Object.Map(ForwarderAbi.VlansMap)));
            Netns.Invoke(() =>
            {
                Routers.Set((uint)Router, Router);
                foreach (var p in new[] { P1, P2 })
                {
                    Ports.Update((uint)p, new ForwarderPort((uint)Router, (ushort)p));
                    Vlans.Set((uint)p, p);
                }
                return true;
            });
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public TempNetns Netns { get; } = null!;
    public int Router { get; }
    public int P1 { get; }
    public int P2 { get; }
    public BpfObject Object { get; } = null!;
    public BpfProgram Physical { get; } = null!;
    public BpfProgram RouterProgram { get; } = null!;
    public BpfProgram Pass { get; } = null!;
    public BpfHashMap<uint, ForwarderPort> Ports { get; } = null!;
    public BpfDevMap Routers { get; } = null!;
    public BpfDevMap Vlans { get; } = null!;

    /// <summary>A test run inside the namespace, as if the frame arrived on <paramref name="ifIndex"/>.</summary>
    public TestRunResult Run(BpfProgram program, byte[] frame, int ifIndex) =>
        Netns.Invoke(() => XdpTestRun.Run(program, frame, ifIndex));

    public T Own<T>(T disposable) where T : IDisposable
    {
        owned.Add(disposable);
        return disposable;
    }

    public void Dispose()
    {
        for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
        owned.Clear();
    }
}

/// <summary>XDP return codes (enum xdp_action).</summary>
internal static class Xdp
{
    public const int Aborted = 0;
    public const int Drop = 1;
    public const int Pass = 2;
    public const int Tx = 3;
    public const int Redirect = 4;

    /// <summary><paramref name="frame"/> with an 802.1Q tag (TPID <paramref name="tpid"/>) inserted after the MACs.</summary>
    public static byte[] Tagged(byte[] frame, int tci, int tpid = 0x8100) =>
        [.. frame[..12], (byte)(tpid >> 8), (byte)tpid, (byte)(tci >> 8), (byte)tci, .. frame[12..]];
}
