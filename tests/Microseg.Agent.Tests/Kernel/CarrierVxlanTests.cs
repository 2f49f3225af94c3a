// VXLAN-GBP between two simulated hosts, each with its own agent: the group stamped on nodea
// is enforced on nodeb (and back) only when the vxlan device was created with gbp; without it
// nodeb sees untagged traffic, and status and apply name the device and the fix.
using System.Text.Json;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class CarrierVxlanTests
{
    [KernelFact]
    public void With_gbp_web_on_one_host_reaches_db_on_the_other_and_back_and_a_group_without_a_rule_is_dropped()
    {
        using var lab = new CarrierLab(LabCarrier.VxlanGbp);

        var udp = lab.Udp("web", "app", "none", "db");
        Assert.True(udp[("web", "db")]);    // web -> db: allow, enforced on nodeb
        Assert.True(udp[("db", "web")]);    // db -> web: allow, enforced on nodea
        Assert.False(udp[("app", "db")]);   // app has no rule: dropped on nodeb
        Assert.False(udp[("none", "db")]);  // untagged: dropped on nodeb
        var report = LabCheck.Run(lab.Lab);
        Assert.True(report.AllMatch, LabCheck.Render(lab.Lab, report));

        // What each host sees of the other's guests, read from the mark of what arrives.
        var seen = lab.Seen();
        Assert.Equal(CarrierLab.Web, seen["web"]);
        Assert.Equal(CarrierLab.App, seen["app"]);
        Assert.Equal(CarrierLab.Untagged, seen["none"]);
        Assert.Equal(CarrierLab.Db, seen["db"]);

        foreach (var host in new[] { lab.A, lab.B })
        {
            using var status = JsonDocument.Parse(lab.Microseg(host, "status", "--json"));
            var vx = Assert.Single(status.RootElement.GetProperty("carrier").GetProperty("vxlan").EnumerateArray());
            Assert.Equal("vx0", vx.GetProperty("name").GetString());
            Assert.True(vx.GetProperty("gbp").GetBoolean());
            Assert.Empty(status.RootElement.GetProperty("warnings").EnumerateArray());
        }
    }

    [KernelFact]
    public void Without_gbp_the_group_is_lost_on_the_wire_and_status_and_apply_name_the_device_and_the_fix()
    {
        using var lab = new CarrierLab(LabCarrier.Vxlan);

        var udp = lab.Udp("web", "db");
        Assert.False(udp[("web", "db")]);  // nodeb sees untagged: no rule lets that in
        Assert.False(udp[("db", "web")]);
        var seen = lab.Seen();
        Assert.Equal(CarrierLab.Untagged, seen["web"]);
        Assert.Equal(CarrierLab.Untagged, seen["db"]);

        // The same packets pass once untagged traffic may reach db: nodeb does see them, untagged.
        lab.Lab.Commit(CarrierLab.Policy + "rule: p0-20\n\tdst db\n\taction allow\n");
        lab.Microseg(lab.B, "apply");
        Assert.True(lab.Udp("web", "db")[("web", "db")]);

        foreach (var host in new[] { lab.A, lab.B })
        {
            var status = lab.Microseg(host, "status");
            Assert.Contains("vxlan vx0: VNI 4242 on bridge br0, gbp OFF", status);
            var warning = status.Split('\n').Single(l => l.StartsWith("warning: carrier: vxlan device vx0", StringComparison.Ordinal));
            Assert.Contains("lacks the gbp flag", warning);
            Assert.Contains("can only be set when the device is created", warning);
            Assert.Contains($"ip link add vx0 type vxlan id 4242 dstport 4789 local {LabNetwork.UnderlayIpv4(lab.Lab.Spec.HostIndex(host.Name))} gbp", warning);
            using var json = JsonDocument.Parse(lab.Microseg(host, "status", "--json"));
            Assert.Contains(json.RootElement.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.StartsWith("carrier: vxlan device vx0", StringComparison.Ordinal));

            var apply = lab.MicrosegResult(host, "apply");
            Assert.True(apply.ExitCode == 0, apply.Stderr); // a warning, not a failure: the NICs are enforced
            Assert.Contains("warning: carrier: vxlan device vx0 (VNI 4242) on bridge br0 lacks the gbp flag", apply.Stdout);
        }

        // The plug path of a guest NIC on that bridge warns too.
        var plug = lab.Microseg(lab.A, "apply", lab.Guest("web").HostNic);
        Assert.Contains("warning: carrier: vxlan device vx0", plug);
    }
}
