// Lab files with several hosts and a carrier: what they accept, refuse and derive. Pure.
using Microseg.Lab;

namespace Microseg.Agent.Tests;

public class CarrierLabSpecTests
{
    private static LabSpec Spec(string carrier, string guests, string hosts = """[{"name":"nodea"},{"name":"nodeb"}]""") =>
        LabSpec.FromJson($$"""{"name":"x","carrier":"{{carrier}}","hosts":{{hosts}},"guests":{{guests}}}""", "", "test.json");

    [Fact]
    public void The_built_in_cross_host_labs_load_with_their_carrier_and_derived_host_addresses()
    {
        var srv6 = LabSpec.BuiltIn("xhost-srv6");
        Assert.Equal(LabCarrier.Srv6, srv6.Carrier);
        Assert.Contains("bridge: und0", srv6.PolicyText);
        Assert.Equal("10.80.1.1/24", srv6.HostAddress(srv6.Hosts[0]));  // the guests' gateway
        Assert.Equal("10.80.2.1/24", srv6.HostAddress(srv6.Hosts[1]));

        var vxlan = LabSpec.BuiltIn("xhost-vxlan");
        Assert.Equal(LabCarrier.VxlanGbp, vxlan.Carrier);
        Assert.Equal("10.79.0.254/24", vxlan.HostAddress(vxlan.Hosts[0]));
        Assert.Equal("10.79.0.253/24", vxlan.HostAddress(vxlan.Hosts[1]));

        var demo = LabSpec.Demo();
        Assert.False(demo.IsMultiHost);
        Assert.Null(demo.HostAddress(demo.Hosts[0]));
    }

    [Fact]
    public void Several_hosts_need_a_carrier_and_carriers_have_names()
    {
        var guests = """[{"name":"g1","host":"nodea","vmid":100,"iface":0,"address":"10.1.0.10/24"}]""";
        Assert.Contains("needs a carrier", Assert.Throws<LabException>(() => Spec("none", guests)).Message);
        Assert.Contains("carrier 'gre' is none of none, vxlan-gbp, vxlan, srv6", Assert.Throws<LabException>(() => Spec("gre", guests)).Message);
    }

    [Fact]
    public void Srv6_labs_route_one_subnet_per_host_and_vxlan_labs_bridge_one()
    {
        var overlapping = """
            [{"name":"g1","host":"nodea","vmid":100,"iface":0,"address":"10.1.0.10/24"},
             {"name":"g2","host":"nodeb","vmid":101,"iface":0,"address":"10.1.0.20/24"}]
            """;
        Assert.Contains("overlapping guest subnets", Assert.Throws<LabException>(() => Spec("srv6", overlapping)).Message);
        Assert.Equal(LabCarrier.VxlanGbp, Spec("vxlan-gbp", overlapping).Carrier);

        var split = """
            [{"name":"g1","host":"nodea","vmid":100,"iface":0,"address":"10.1.1.10/24"},
             {"name":"g2","host":"nodeb","vmid":101,"iface":0,"address":"10.1.2.20/24"}]
            """;
        Assert.Equal(LabCarrier.Srv6, Spec("srv6", split).Carrier);
        Assert.Contains("a VXLAN lab is one subnet", Assert.Throws<LabException>(() => Spec("vxlan", split)).Message);

        var taken = """[{"name":"g1","host":"nodea","vmid":100,"iface":0,"address":"10.1.1.1/24"}]""";
        Assert.Contains("host nodea's address 10.1.1.1 is also g1's", Assert.Throws<LabException>(() => Spec("srv6", taken)).Message);
    }
}
