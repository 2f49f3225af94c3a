// A veth that XDP redirects frames into in native mode hands them to its peer's XDP rings,
// which exist only while an XDP program is attached to the peer (or NAPI is on through GRO):
// without one the kernel drops the redirected frames. Real NICs and virtio-net need nothing; the
// forwarder lab and tests, whose far ends are veths in other namespaces, attach forwarder_pass.
using Microseg.Agent.Subsystems;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Netlink;

namespace Microseg.Agent.Forwarder;

public static class NativePeer
{
    /// <summary>Attaches forwarder_pass (XDP_PASS) in native mode to <paramref name="device"/>
    /// in network namespace <paramref name="netns"/> and pins the link at <paramref name="pinPath"/>
    /// (on a bpffs) so that it stays attached after this process; removing the pin (or the
    /// device) detaches it.</summary>
    public static void AttachPass(string netns, string device, string pinPath)
    {
        var source = EmbeddedObject.Load(ForwarderSubsystem.SubsystemName, ForwarderAbi.ObjectFile, ForwarderAbi.SchemaVersion);
        using var obj = BpfObject.OpenMemory(source.Bytes, ForwarderAbi.ObjectFile);
        obj.Load();
        using var pass = obj.Program(ForwarderAbi.PassProgram);
        NetworkNamespace.Run(netns, () =>
        {
            using var netlink = new RtNetlink();
            var link = netlink.GetLink(device) ?? throw new AgentException($"attach XDP_PASS to {device} in {netns}: no such interface");
            using var xdp = XdpLink.Create(pass, link.IfIndex, XdpMode.Native);
            xdp.Pin(pinPath);
        });
    }
}
