// The addresses a multi-host lab derives rather than asks for: the underlay between hosts, the
// SRv6 locators, the hosts' own addresses on their bridges, fixed MACs. Pure.
using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace Microseg.Lab;

/// <summary>An IPv4 subnet, ADDRESS/PREFIX.</summary>
public readonly record struct Ipv4Subnet(uint Network, int Prefix)
{
    public static Ipv4Subnet Of(string addressWithPrefix)
    {
        var parts = addressWithPrefix.Split('/');
        if (parts.Length != 2 || !IPAddress.TryParse(parts[0], out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix is < 1 or > 30)
            throw new LabException($"'{addressWithPrefix}' is not an IPv4 ADDRESS/PREFIX with a prefix of 1..30");
        return new Ipv4Subnet(ToUInt(ip) & Mask(prefix), prefix);
    }

    public IPAddress FirstHost => FromUInt(Network + 1);

    public IPAddress LastHost => FromUInt((Network | ~Mask(Prefix)) - 1);

    public bool Contains(IPAddress ip) => (ToUInt(ip) & Mask(Prefix)) == Network;

    /// <summary>ADDRESS/PREFIX for an address in this subnet.</summary>
    public string WithPrefix(IPAddress ip) => $"{ip}/{Prefix.ToString(CultureInfo.InvariantCulture)}";

    public override string ToString() => $"{FromUInt(Network)}/{Prefix.ToString(CultureInfo.InvariantCulture)}";

    public static uint ToUInt(IPAddress ip) => BinaryPrimitives.ReadUInt32BigEndian(ip.GetAddressBytes());

    public static IPAddress FromUInt(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    private static uint Mask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
}

public static class LabNetwork
{
    /// <summary>Each host's interface to the underlay (the carrier interface of SRv6 labs).</summary>
    public const string UnderlayInterface = "und0";

    /// <summary>The underlay switch's bridge, in its own namespace.</summary>
    public const string UnderlayBridge = "ul0";

    /// <summary>The namespace member name of the underlay switch.</summary>
    public const string UnderlayMember = "underlay";

    /// <summary>The vxlan device of VXLAN labs, on each host's bridge.</summary>
    public const string VxlanDevice = "vx0";

    public const int VxlanVni = 4242;
    public const int VxlanPort = 4789;

    /// <summary>The underlay MTU: room for either encapsulation around 1500-byte guest packets.</summary>
    public const int UnderlayMtu = 9000;

    public static IPAddress UnderlayIpv4(int hostIndex) => IPAddress.Parse($"192.168.77.{hostIndex + 1}");

    public static IPAddress UnderlayIpv6(int hostIndex) => IPAddress.Parse($"fd00:77::{hostIndex + 1:x}");

    /// <summary>The host's SRv6 locator: fc00:N::/64; its End.DX4 SID is fc00:N::d4.</summary>
    public static string Srv6Locator(int hostIndex) => $"fc00:{hostIndex + 1:x}::/64";

    public static IPAddress Dx4Sid(int hostIndex) => IPAddress.Parse($"fc00:{hostIndex + 1:x}::d4");

    /// <summary>Fixed, locally administered MACs (02:4e:… bridges, 02:4f:… underlay), apart
    /// from the guests' 02:4d:….</summary>
    public static string BridgeMac(int hostIndex) => $"02:4e:00:00:00:{hostIndex + 1:x2}";

    public static string UnderlayMac(int hostIndex) => $"02:4f:00:00:00:{hostIndex + 1:x2}";

    /// <summary>A guest's IPv6 source address for the SRv6 packets it builds itself: fd4d::
    /// followed by its IPv4 address.</summary>
    public static IPAddress GuestIpv6(LabGuest guest)
    {
        var bytes = new byte[16];
        bytes[0] = 0xfd;
        bytes[1] = 0x4d;
        guest.Ip.GetAddressBytes().CopyTo(bytes, 12);
        return new IPAddress(bytes);
    }
}
