// Guest NIC names on a host: tap{vmid}i{iface} (QEMU) and veth{vmid}i{iface} (LXC).
using System.Globalization;
using System.Text.RegularExpressions;
using Microseg.Policy;

namespace Microseg.Agent.Policy;

public enum GuestNicKind { Tap, Veth }

public readonly partial record struct GuestNic(string Name, GuestNicKind Kind, long Vmid, long Iface)
{
    public string AssignmentId => Assignment.DerivedId(Vmid, Iface);

    [GeneratedRegex("^(tap|veth)([1-9][0-9]{2,8})i([0-9]{1,2})$")]
    private static partial Regex NameRegex();

    /// <summary>True when the name is a guest NIC's (vmid 100..999999999, iface 0..31).</summary>
    public static bool TryParse(string name, out GuestNic nic)
    {
        nic = default;
        var m = NameRegex().Match(name);
        if (!m.Success) return false;
        var vmid = long.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture);
        var iface = long.Parse(m.Groups[3].ValueSpan, CultureInfo.InvariantCulture);
        if (vmid is < Names.MinVmid or > Names.MaxVmid || iface is < Names.MinIface or > Names.MaxIface) return false;
        // "tap100i07" is not a name QEMU or LXC would make.
        if (m.Groups[3].Value != iface.ToString(CultureInfo.InvariantCulture)) return false;
        nic = new GuestNic(name, m.Groups[1].Value == "tap" ? GuestNicKind.Tap : GuestNicKind.Veth, vmid, iface);
        return true;
    }
}
