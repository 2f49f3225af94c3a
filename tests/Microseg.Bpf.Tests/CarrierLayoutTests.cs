// The carrier section of abi.h against its C# mirror (STYLE: layout tier), and the mirror
// against the kernel's own struct ipv6_sr_hdr, which names the same eight bytes.
using System.Runtime.InteropServices;
using Microseg.Bpf.Abi;

namespace Microseg.Bpf.Tests;

public sealed class CarrierLayoutTests
{
    [Fact]
    public void Carrier_struct_and_constants_match_abi_h()
    {
        new CLayout("\"abi.h\"")
            .Size<SrhFixed>("struct srh_fixed")
            .Offset<SrhFixed>("NextHeader", "struct srh_fixed", "next_hdr")
            .Offset<SrhFixed>("HdrExtLen", "struct srh_fixed", "hdr_ext_len")
            .Offset<SrhFixed>("RoutingType", "struct srh_fixed", "routing_type")
            .Offset<SrhFixed>("SegmentsLeft", "struct srh_fixed", "segments_left")
            .Offset<SrhFixed>("LastEntry", "struct srh_fixed", "last_entry")
            .Offset<SrhFixed>("Flags", "struct srh_fixed", "flags")
            .Offset<SrhFixed>("Tag", "struct srh_fixed", "tag")
            .Constant("sizeof(((struct srh_fixed *)0)->tag)", sizeof(ushort))
            .Constant("SRH_ROUTING_TYPE", CarrierAbi.SrhRoutingType)
            .Constant("CARRIER_SCHEMA_VERSION", CarrierAbi.SchemaVersion)
            .Constant("CARRIER_MAX_VLAN_TAGS", CarrierAbi.MaxVlanTags)
            .Constant("CARRIER_MAX_EXT_HEADERS", CarrierAbi.MaxExtensionHeaders)
            .Constant("CARRIER_PARSE_LIMIT", CarrierAbi.ParseLimit)
            .Compile();
    }

    [Fact]
    public void Srh_fixed_is_the_head_of_the_kernels_ipv6_sr_hdr()
    {
        new CLayout("<linux/seg6.h>", "\"abi.h\"")
            .Assert("sizeof(struct srh_fixed) == sizeof(struct ipv6_sr_hdr)", "struct srh_fixed is not the fixed part of struct ipv6_sr_hdr")
            .Offset<SrhFixed>("NextHeader", "struct ipv6_sr_hdr", "nexthdr")
            .Offset<SrhFixed>("HdrExtLen", "struct ipv6_sr_hdr", "hdrlen")
            .Offset<SrhFixed>("RoutingType", "struct ipv6_sr_hdr", "type")
            .Offset<SrhFixed>("SegmentsLeft", "struct ipv6_sr_hdr", "segments_left")
            .Offset<SrhFixed>("LastEntry", "struct ipv6_sr_hdr", "first_segment")
            .Offset<SrhFixed>("Flags", "struct ipv6_sr_hdr", "flags")
            .Offset<SrhFixed>("Tag", "struct ipv6_sr_hdr", "tag")
            .Compile();
    }

    [Fact]
    public void Group_tag_reads_the_wire_order()
    {
        var srh = MemoryMarshal.Read<SrhFixed>([41, 2, 4, 0, 0, 0, 0x12, 0x34]);
        Assert.Equal(0x1234, srh.GroupTag);
        Assert.Equal(CarrierAbi.SrhRoutingType, srh.RoutingType);
    }
}
