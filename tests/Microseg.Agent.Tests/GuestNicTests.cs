using Microseg.Agent.Policy;

namespace Microseg.Agent.Tests;

public class GuestNicTests
{
    [Theory]
    [InlineData("tap100i0", GuestNicKind.Tap, 100, 0)]
    [InlineData("veth101i31", GuestNicKind.Veth, 101, 31)]
    [InlineData("tap999999999i7", GuestNicKind.Tap, 999999999, 7)]
    public void Parses_guest_nic_names(string name, GuestNicKind kind, long vmid, long iface)
    {
        Assert.True(GuestNic.TryParse(name, out var nic));
        Assert.Equal((kind, vmid, iface), (nic.Kind, nic.Vmid, nic.Iface));
        Assert.Equal($"vm{vmid}i{iface}", nic.AssignmentId);
    }

    [Theory]
    [InlineData("eth0")]
    [InlineData("tap99i0")]          // vmid below 100
    [InlineData("tap100i32")]        // iface above 31
    [InlineData("tap100i07")]        // not a name QEMU makes
    [InlineData("tap0100i0")]
    [InlineData("veth100i0p")]
    [InlineData("vmbr0")]
    [InlineData("tap1000000000i0")]  // vmid above 999999999
    public void Rejects_other_names(string name) => Assert.False(GuestNic.TryParse(name, out _));
}
