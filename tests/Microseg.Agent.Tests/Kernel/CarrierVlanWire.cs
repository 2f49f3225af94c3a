// A VLAN-tagged underlay for the carrier tests. The build machines' kernel has no 802.1Q
// devices (CONFIG_VLAN_8021Q is not set), so this stands in for a trunk of stacked VLAN
// devices: a tcx program on each host's und0 pushes three tags on egress (802.1ad 100 outside,
// then 802.1Q 200 and 300) and pops them on ingress. The outermost tag travels as skb metadata
// (as a NIC's VLAN offload keeps it), the other two in the frame's data: what the carrier parses.
//
// Order matters and is what makes the test: the pusher is attached before the agent's carrier
// (tcx runs programs in attach order), so carrier_egress sees the tagged frame; the popper after
// it, so carrier_ingress sees the tags too.
using System.Diagnostics;
using Microseg.Bpf;
using Microseg.Lab;
using Microseg.Netlink;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Agent.Tests.Kernel;

public sealed class CarrierVlanWire : IDisposable
{
    public const int TagsInData = 2;

    private const string Source = """
        // SPDX-License-Identifier: GPL-2.0
        #include <linux/bpf.h>
        #include <linux/if_ether.h>
        #include <bpf/bpf_helpers.h>
        #include <bpf/bpf_endian.h>

        SEC("tc")
        int vlan_push(struct __sk_buff *skb)
        {
        	/* Each push moves the previous metadata tag into the data: 100 ends up outermost. */
        	if (bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 300) ||
        	    bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 200) ||
        	    bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021AD), 100))
        		return 2; /* TCX_DROP */
        	return -1; /* TCX_NEXT */
        }

        SEC("tc")
        int vlan_pop(struct __sk_buff *skb)
        {
        	/* Each pop drops the metadata tag and moves the next one in the data up into it. */
        	for (int i = 0; i < 3 && skb->vlan_present; i++)
        		if (bpf_skb_vlan_pop(skb))
        			return 2;
        	return -1;
        }

        char LICENSE[] SEC("license") = "GPL";
        """;

    private readonly BpfProgram push, pop;
    private readonly List<TcxLink> links = [];
    private readonly LabRig lab;

    public CarrierVlanWire(LabRig lab)
    {
        this.lab = lab;
        var dir = Directory.CreateTempSubdirectory("microseg-vlanwire-");
        try
        {
            var c = Path.Combine(dir.FullName, "vlan_wire.bpf.c");
            var o = Path.Combine(dir.FullName, "vlan_wire.bpf.o");
            File.WriteAllText(c, Source);
            var arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "aarch64" : "x86_64";
            using (var clang = Process.Start(new ProcessStartInfo("clang", ["-O2", "-g", "-target", "bpf", "-Wall", $"-I/usr/include/{arch}-linux-gnu", "-c", c, "-o", o])
                   { RedirectStandardError = true })!)
            {
                var error = clang.StandardError.ReadToEnd();
                clang.WaitForExit();
                Assert.True(clang.ExitCode == 0, $"clang vlan_wire.bpf.c: {error}");
            }
            using var obj = BpfObject.OpenMemory(File.ReadAllBytes(o), "vlan_wire");
            obj.Load();
            push = obj.Program("vlan_push");
            pop = obj.Program("vlan_pop");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Before `microseg apply`: every host tags what leaves und0.</summary>
    public void AttachPushers() => Attach(push, TcxDirection.Egress);

    /// <summary>After `microseg apply`: every host untags what arrives on und0.</summary>
    public void AttachPoppers() => Attach(pop, TcxDirection.Ingress);

    private void Attach(BpfProgram program, TcxDirection direction)
    {
        foreach (var host in lab.Spec.Hosts)
            links.Add(NetworkNamespace.Run(lab.Namespace(host.Name), () =>
            {
                using var netlink = new RtNetlink();
                var und = netlink.GetLink(LabNetwork.UnderlayInterface) ?? throw new InvalidOperationException($"{host.Name} has no {LabNetwork.UnderlayInterface}");
                return TcxLink.Create(program, und.IfIndex, direction);
            }));
    }

    /// <summary>Closes the links (unpinned, so they detach) and the programs.</summary>
    public void Dispose()
    {
        foreach (var link in links) link.Dispose();
        push.Dispose();
        pop.Dispose();
    }
}
