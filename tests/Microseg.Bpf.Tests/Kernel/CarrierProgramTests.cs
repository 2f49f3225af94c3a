// carrier.bpf.o's parser on crafted frames through BPF_PROG_TEST_RUN: what it tags, what it
// leaves alone (truncated headers, long extension-header chains, wrong routing types, VLAN
// stacks), and that egress and ingress always agree on where the tag is.
using System.Buffers.Binary;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class CarrierProgramTests : IDisposable
{
    private const uint Lo = 1;
    private const int TcxNext = -1;
    private readonly BpfProgram egress, ingress;

    public CarrierProgramTests()
    {
        var path = RepoPaths.BpfObject(CarrierAbi.ObjectFile);
        Assert.True(File.Exists(path), $"{path} is missing: run `make bpf` first");
        using var obj = BpfObject.OpenMemory(File.ReadAllBytes(path), "carrier");
        obj.Load();
        egress = obj.Program(CarrierAbi.EgressProgram);
        ingress = obj.Program(CarrierAbi.IngressProgram);
    }

    public void Dispose()
    {
        egress.Dispose();
        ingress.Dispose();
    }

    private TestRunResult Egress(byte[] frame, uint mark)
    {
        var run = ProgramTestRun.Run(egress, frame, new SkBuff { Mark = mark, IfIndex = Lo });
        Assert.Equal(TcxNext, run.ReturnValue); // the carrier annotates, it never decides
        Assert.Equal(mark, run.Context!.Value.Mark);
        return run;
    }

    private uint Ingress(byte[] frame, uint mark)
    {
        var run = ProgramTestRun.Run(ingress, frame, new SkBuff { Mark = mark, IfIndex = Lo });
        Assert.Equal(TcxNext, run.ReturnValue);
        Assert.Equal(frame, run.Data); // ingress only reads the packet
        return run.Context!.Value.Mark;
    }

    /// <summary>Egress wrote <paramref name="group"/> into the tag and changed nothing else.</summary>
    private void AssertTagged(CarrierFrame frame, byte[] after, ushort group)
    {
        var expected = (byte[])frame.Bytes.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(frame.TagOffset!.Value), group);
        Assert.Equal(expected, after);
    }

    /// <summary>Neither program touches the frame: egress leaves the bytes, ingress the mark.</summary>
    private void AssertLeftAlone(byte[] frame)
    {
        Assert.Equal(frame, Egress(frame, 0xABCD0014).Data);
        Assert.Equal(0xABCD5678u, Ingress(frame, 0xABCD5678));
    }

    [KernelFact]
    public void Egress_writes_the_group_into_the_tag_in_network_byte_order_and_nothing_else()
    {
        var frame = CarrierFrames.Build(tag: 0);
        var run = Egress(frame.Bytes, 0xABCD1234);
        AssertTagged(frame, run.Data, 0x1234);
        Assert.Equal([0x12, 0x34], run.Data[frame.TagOffset!.Value..(frame.TagOffset.Value + 2)]);
    }

    [KernelFact]
    public void Egress_replaces_whatever_tag_the_sender_claimed_untagged_included()
    {
        var claimed = CarrierFrames.Build(tag: 20);
        AssertTagged(claimed, Egress(claimed.Bytes, 0xFFFF0000).Data, 0);
        AssertTagged(claimed, Egress(claimed.Bytes, 30).Data, 30);
    }

    [KernelFact]
    public void Ingress_copies_the_tag_into_the_low_16_bits_and_keeps_the_upper_16()
    {
        var frame = CarrierFrames.Build(tag: 0x1234);
        Assert.Equal(0xABCD1234u, Ingress(frame.Bytes, 0xABCD0000));
        Assert.Equal(0xABCD1234u, Ingress(frame.Bytes, 0xABCD5678)); // a previous group is replaced
        Assert.Equal(0x00001234u, Ingress(frame.Bytes, 0));
        Assert.Equal(0xABCD0000u, Ingress(CarrierFrames.Build(tag: 0).Bytes, 0xABCDFFFF)); // untagged is a group too
    }

    [KernelFact]
    public void Egress_then_ingress_carries_every_group()
    {
        foreach (ushort group in new ushort[] { 0, 1, 10, 0x00ff, 0xff00, 0x8000, 0xfffe, 0xffff })
        {
            var frame = CarrierFrames.Build(tag: 0xBEEF);
            var onWire = Egress(frame.Bytes, 0x55550000u | group).Data;
            Assert.Equal(0x77770000u | group, Ingress(onWire, 0x77770000));
        }
    }

    public static TheoryData<ushort[]> VlanStacks => new()
    {
        Array.Empty<ushort>(),
        new[] { CarrierFrames.Dot1Q },
        new[] { CarrierFrames.Dot1Ad },
        new[] { CarrierFrames.Dot1Ad, CarrierFrames.Dot1Q },
        new[] { CarrierFrames.Dot1Q, CarrierFrames.Dot1Q },
    };

    [KernelTheory]
    [MemberData(nameof(VlanStacks))]
    public void Frames_with_up_to_two_vlan_tags_in_the_data_carry_the_group(ushort[] vlans)
    {
        var frame = CarrierFrames.Build(vlans: vlans, tag: 7);
        AssertTagged(frame, Egress(frame.Bytes, 42).Data, 42);
        Assert.Equal(0x00010007u, Ingress(frame.Bytes, 0x00010000));
    }

    [KernelFact]
    public void A_third_vlan_tag_in_the_data_is_beyond_the_parse_on_both_sides()
    {
        var frame = CarrierFrames.Build(vlans: [CarrierFrames.Dot1Ad, CarrierFrames.Dot1Q, CarrierFrames.Dot1Q], tag: 7);
        Assert.Null(CarrierFrames.ExpectedTagOffset(frame.Bytes));
        AssertLeftAlone(frame.Bytes);
    }

    public static TheoryData<string, Ext[]> CarriedChains => new()
    {
        { "hop-by-hop", [Ext.HopByHop()] },
        { "destination options", [Ext.DestinationOptions()] },
        { "hop-by-hop, destination options", [Ext.HopByHop(), Ext.DestinationOptions()] },
        { "hop-by-hop + 7 destination options (the bound)", [Ext.HopByHop(), .. Enumerable.Repeat(Ext.DestinationOptions(), 7)] },
        { "8 destination options (the bound)", [.. Enumerable.Repeat(Ext.DestinationOptions(), CarrierAbi.MaxExtensionHeaders)] },
        { "one of 2048 bytes (the longest one)", [Ext.DestinationOptions(255)] },
        { "hop-by-hop of 1 KiB, destination options of 2 KiB", [Ext.HopByHop(127), Ext.DestinationOptions(255)] },
        { "8 of mixed lengths", [Ext.HopByHop(3), Ext.DestinationOptions(0), Ext.DestinationOptions(40), Ext.DestinationOptions(1), Ext.DestinationOptions(7), Ext.DestinationOptions(2), Ext.DestinationOptions(0), Ext.DestinationOptions(60)] },
    };

    [KernelTheory]
    [MemberData(nameof(CarriedChains))]
    public void Extension_headers_before_the_srh_still_carry_the_group(string chain, Ext[] exts)
    {
        var frame = CarrierFrames.Build(vlans: [CarrierFrames.Dot1Q], exts: exts, tag: 1);
        Assert.True(frame.TagOffset == CarrierFrames.ExpectedTagOffset(frame.Bytes), chain);
        AssertTagged(frame, Egress(frame.Bytes, 0x00000bad).Data, 0x0bad);
        Assert.Equal(0xFFFF0001u, Ingress(frame.Bytes, 0xFFFF0000));
    }

    [KernelFact]
    public void A_chain_longer_than_the_bound_is_left_alone_on_both_sides()
    {
        var frame = CarrierFrames.Build(exts: [.. Enumerable.Repeat(Ext.DestinationOptions(), CarrierAbi.MaxExtensionHeaders + 1)], tag: 9);
        Assert.Null(CarrierFrames.ExpectedTagOffset(frame.Bytes));
        AssertLeftAlone(frame.Bytes);
    }

    [KernelTheory]
    [InlineData((byte)0)]   // RH0, deprecated
    [InlineData((byte)2)]   // Mobile IPv6
    [InlineData((byte)3)]   // RPL
    [InlineData((byte)5)]
    [InlineData((byte)255)]
    public void A_routing_header_of_another_type_is_left_alone(byte type)
    {
        AssertLeftAlone(CarrierFrames.Build(routingType: type, tag: 0x1234).Bytes);
        AssertLeftAlone(CarrierFrames.Build(exts: [Ext.HopByHop()], routingType: type, tag: 0x1234).Bytes);
    }

    [KernelTheory]
    [InlineData(Ipv6Next.Fragment)]
    [InlineData(Ipv6Next.Ah)]
    [InlineData(Ipv6Next.Esp)]
    [InlineData(Ipv6Next.Tcp)]
    [InlineData(Ipv6Next.NoNext)]
    public void An_srh_behind_a_header_that_may_not_precede_it_is_left_alone(byte header)
    {
        // RFC 8200's order puts only hop-by-hop and destination options before the routing header.
        var frame = CarrierFrames.Build(exts: [new Ext(header)], tag: 0x1234);
        Assert.Null(CarrierFrames.ExpectedTagOffset(frame.Bytes));
        AssertLeftAlone(frame.Bytes);
    }

    [KernelFact]
    public void Non_srv6_ipv6_and_ipv4_and_other_frames_are_left_alone()
    {
        AssertLeftAlone(CarrierFrames.Build(routingType: null).Bytes);                                    // IPv6 UDP
        AssertLeftAlone(CarrierFrames.Build(exts: [Ext.HopByHop(), Ext.DestinationOptions()], routingType: null).Bytes);
        AssertLeftAlone(CarrierFrames.Build(vlans: [CarrierFrames.Dot1Q], routingType: null, afterExts: Ipv6Next.Tcp).Bytes);
        AssertLeftAlone(Frames.Guest1ToGuest2());                                                        // IPv4 UDP
        var arp = new byte[42];
        arp[12] = 0x08; arp[13] = 0x06;
        AssertLeftAlone(arp);
        var ipv4InVlan = Frames.Guest1ToGuest2().ToList();
        ipv4InVlan.InsertRange(12, [0x81, 0x00, 0x00, 0x64]);
        AssertLeftAlone([.. ipv4InVlan]);
    }

    [KernelFact]
    public void Frames_cut_anywhere_before_the_end_of_the_tag_are_left_alone()
    {
        var full = CarrierFrames.Build(vlans: [CarrierFrames.Dot1Ad, CarrierFrames.Dot1Q], exts: [Ext.HopByHop(1), Ext.DestinationOptions()], tag: 3);
        int tagEnd = full.TagOffset!.Value + 2;
        for (int length = 14; length < tagEnd; length++)
        {
            // The IPv6 payload length still claims the whole packet: only the bytes are missing.
            var cut = full.Bytes[..length];
            Assert.Null(CarrierFrames.ExpectedTagOffset(cut));
            AssertLeftAlone(cut);
        }
        var exact = full.Bytes[..tagEnd];
        AssertTagged(full with { Bytes = exact }, Egress(exact, 99).Data, 99);
        Assert.Equal(3u, Ingress(exact, 0));
    }

    [KernelFact]
    public void An_extension_header_that_claims_more_than_the_frame_holds_is_left_alone()
    {
        var frame = CarrierFrames.Build(exts: [Ext.DestinationOptions()], tag: 3);
        var lying = (byte[])frame.Bytes.Clone();
        lying[14 + 40 + 1] = 200; // hdr_ext_len: 1608 bytes in a frame far shorter
        Assert.Null(CarrierFrames.ExpectedTagOffset(lying));
        AssertLeftAlone(lying);
    }

    /// <summary>Random frames around the parser's edges (VLAN stacks, chains of any header type
    /// and length, any routing type, cuts, flipped header bytes): the BPF parser finds the tag
    /// exactly where the independent C# reading does, egress changes at most those two bytes,
    /// and ingress reads back what egress wrote, so both sides always agree.</summary>
    [KernelFact]
    public void Random_frames_the_programs_agree_with_each_other_and_with_an_independent_reading()
    {
        var rng = new Random(20261123);
        byte[] types = [Ipv6Next.HopByHop, Ipv6Next.DestinationOptions, Ipv6Next.DestinationOptions, Ipv6Next.Fragment, Ipv6Next.Ah, Ipv6Next.Routing];
        int tagged = 0, alone = 0, refused = 0;
        for (int i = 0; i < 600; i++)
        {
            // Half of them within the bounds, half anything; then a quarter cut, a quarter flipped.
            bool within = rng.Next(2) == 0;
            var vlans = Enumerable.Range(0, rng.Next(within ? 3 : 4)).Select(_ => rng.Next(2) == 0 ? CarrierFrames.Dot1Q : CarrierFrames.Dot1Ad).ToArray();
            var exts = Enumerable.Range(0, rng.Next(within ? 9 : 11))
                .Select(_ => new Ext(within ? types[rng.Next(3)] : types[rng.Next(types.Length)], (byte)(rng.Next(4) == 0 ? rng.Next(64) : 0))).ToArray();
            byte? routing = within ? CarrierAbi.SrhRoutingType : rng.Next(4) switch { 0 => null, 1 => (byte)rng.Next(8), _ => CarrierAbi.SrhRoutingType };
            var bytes = CarrierFrames.Build(vlans, exts, routing, tag: (ushort)rng.Next(65536)).Bytes;
            if (bytes.Length > 3000) continue; // BPF_PROG_TEST_RUN takes at most a page, less skb room
            if (rng.Next(4) == 0) bytes = bytes[..rng.Next(14, bytes.Length)];
            if (rng.Next(4) == 0) bytes[rng.Next(12, Math.Min(bytes.Length, 120))] ^= (byte)(1 << rng.Next(8));

            if (KernelRefuses(bytes)) { refused++; continue; }
            int? expected = CarrierFrames.ExpectedTagOffset(bytes);
            ushort group = (ushort)rng.Next(65536);
            var onWire = Egress(bytes, 0x12340000u | group).Data;
            var changed = Enumerable.Range(0, bytes.Length).Where(b => bytes[b] != onWire[b]).ToList();
            if (expected is { } offset)
            {
                Assert.Equal(group, BinaryPrimitives.ReadUInt16BigEndian(onWire.AsSpan(offset)));
                Assert.All(changed, b => Assert.InRange(b, offset, offset + 1));
                Assert.Equal(0xAAAA0000u | group, Ingress(onWire, 0xAAAA0000));
                tagged++;
            }
            else
            {
                Assert.Empty(changed);
                Assert.Equal(0xAAAA5555u, Ingress(onWire, 0xAAAA5555));
                alone++;
            }
        }
        Assert.True(tagged > 100 && alone > 100, $"the random frames cover both outcomes ({tagged} tagged, {alone} left alone, {refused} refused by the kernel)");
    }

    /// <summary>BPF_PROG_TEST_RUN builds no skb whose Ethernet type is IPv4 or IPv6 but whose
    /// network header is cut short (EINVAL); such frames are cut inside a VLAN tag here instead.</summary>
    private static bool KernelRefuses(byte[] frame)
    {
        ushort proto = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));
        return (proto == 0x86dd && frame.Length < 14 + 40) || (proto == 0x0800 && frame.Length < 14 + 20);
    }
}
