// A monitor_event record as the ring holds it (64 bytes, laid out by hand here as the C struct
// says) becomes the VerdictEvent the user sees; and the JSON line and lost count of the monitor.
using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using Microseg.Agent.Observe;
using Microseg.Bpf;
using Microseg.Bpf.Abi;

namespace Microseg.Agent.Tests;

public class VerdictEventTests
{
    private sealed class Names : IVerdictNames
    {
        public string? Rule(uint slot) => slot == 7 ? "p10-20" : null;
        public string? Group(ushort mark) => mark switch { 10 => "web", 20 => "db", _ => null };
        public string? Nic(int ifindex) => ifindex == 42 ? "tap100i0" : null;
    }

    private static byte[] Record(ulong time = 0, uint ifindex = 42, uint len = 74, ushort src = 10, ushort dst = 20,
        ushort sport = 40000, ushort dport = 22, byte family = PolicyAbi.FlowFamilyIpv4, byte proto = 6,
        byte verdict = PolicyAbi.MonVerdictDrop, byte reason = PolicyAbi.MonReasonDefaultDeny, uint slot = 0,
        string saddr = "10.0.0.1", string daddr = "10.0.0.2")
    {
        var r = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(0), time);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(8), ifindex);
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(12), len);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(16), src);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(18), dst);
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(20), sport); // network byte order
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(22), dport);
        r[24] = family;
        r[25] = proto;
        r[26] = verdict;
        r[27] = reason;
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(28), slot);
        IPAddress.Parse(saddr).GetAddressBytes().CopyTo(r, 32);
        IPAddress.Parse(daddr).GetAddressBytes().CopyTo(r, 48);
        return r;
    }

    private static VerdictEvent Decode(byte[] record, KernelClock.MonotonicToWall? clock = null) =>
        VerdictEvent.From(MonitorEvent.Read(record), new Names(), clock ?? new KernelClock.MonotonicToWall());

    [Fact]
    public void A_default_deny_drop_carries_names_addresses_ports_and_length()
    {
        var e = Decode(Record());

        Assert.Equal(("tap100i0", "web", "db"), (e.Nic, e.SrcGroup, e.DstGroup));
        Assert.Equal(("10.0.0.1", "10.0.0.2", "tcp", 40000, 22), (e.Src, e.Dst, e.Proto, e.Sport!.Value, e.Dport!.Value));
        Assert.Equal(("drop", "default-deny", 74u), (e.Verdict, e.Reason, e.Length));
    }

    [Theory]
    [InlineData(PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonRule, 7u, "drop", "p10-20")]
    [InlineData(PolicyAbi.MonVerdictAudit, PolicyAbi.MonReasonRule, 7u, "audit", "p10-20")]
    [InlineData(PolicyAbi.MonVerdictAllow, PolicyAbi.MonReasonRule, 7u, "allow", "p10-20")]
    [InlineData(PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonRule, 99u, "drop", "slot:99")]
    [InlineData(PolicyAbi.MonVerdictAudit, PolicyAbi.MonReasonDefaultDeny, 0u, "audit", "default-deny")]
    [InlineData(PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonReply, 0u, "drop", "reply")]
    [InlineData(PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonInfra, 0u, "drop", "infra")]
    [InlineData(PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonUnreadable, 0u, "drop", "unreadable")]
    public void Verdict_and_reason_are_words_and_a_rule_is_named_by_its_slot(byte verdict, byte reason, uint slot, string word, string why)
    {
        var e = Decode(Record(verdict: verdict, reason: reason, slot: slot));

        Assert.Equal((word, why), (e.Verdict, e.Reason));
    }

    [Fact]
    public void Untagged_sources_unknown_marks_and_vanished_nics_are_said_as_such()
    {
        var e = Decode(Record(src: 0, dst: 999, ifindex: 77));

        Assert.Null(e.SrcGroup);
        Assert.Equal("mark:999", e.DstGroup);
        Assert.Equal("if:77", e.Nic);
    }

    [Fact]
    public void A_packet_that_is_not_IP_has_no_addresses_protocol_or_ports()
    {
        var e = Decode(Record(family: 0, proto: 0, sport: 0, dport: 0, saddr: "0.0.0.0", daddr: "0.0.0.0", reason: PolicyAbi.MonReasonInfra));

        Assert.Equal((null, null, null, null, null), (e.Src, e.Dst, e.Proto, e.Sport, e.Dport));
    }

    [Fact]
    public void Icmp_has_no_ports_and_ipv6_addresses_read_as_ipv6()
    {
        var icmp = Decode(Record(proto: 1, sport: 0x1234, dport: 0));
        var v6 = Decode(Record(family: PolicyAbi.FlowFamilyIpv6, proto: 17, saddr: "fd00::1", daddr: "fd00::2", sport: 5353, dport: 53));

        Assert.Equal(("icmp", null, null), (icmp.Proto, icmp.Sport, icmp.Dport));
        Assert.Equal(("fd00::1", "fd00::2", "udp", 5353, 53), (v6.Src, v6.Dst, v6.Proto, v6.Sport!.Value, v6.Dport!.Value));
    }

    [Fact]
    public void Kernel_time_becomes_wall_clock_time()
    {
        var clock = new KernelClock.MonotonicToWall();
        ulong now = KernelClock.MonotonicNanoseconds();
        var before = DateTimeOffset.UtcNow;

        var e = Decode(Record(time: now - 2_000_000_000), clock); // two seconds ago

        var ago = before - e.Time;
        Assert.InRange(ago.TotalMilliseconds, 1900, 2500);
    }

    [Fact]
    public void The_json_line_has_the_contract_fields_in_order()
    {
        var e = new VerdictEvent(new DateTimeOffset(2026, 11, 28, 14, 0, 0, 123, TimeSpan.Zero), "tap100i0", "web", "db",
            "10.0.0.1", "10.0.0.2", "tcp", 40000, 22, "drop", "default-deny", 74);

        Assert.Equal("""{"time":"2026-11-28T14:00:00.123Z","nic":"tap100i0","src_group":"web","dst_group":"db","src":"10.0.0.1","dst":"10.0.0.2","proto":"tcp","sport":40000,"dport":22,"verdict":"drop","reason":"default-deny","len":74}""",
            VerdictEventJson.Line(e));
        Assert.Equal("""{"lost":123}""", VerdictEventJson.LostLine(123));
    }

    [Fact]
    public void Absent_values_are_json_nulls()
    {
        var e = new VerdictEvent(DateTimeOffset.UnixEpoch, "if:3", null, "db", null, null, null, null, null, "drop", "infra", 42);

        using var doc = JsonDocument.Parse(VerdictEventJson.Line(e));

        foreach (var name in new[] { "src_group", "src", "dst", "proto", "sport", "dport" })
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty(name).ValueKind);
        Assert.Equal("1970-01-01T00:00:00.000Z", doc.RootElement.GetProperty("time").GetString());
    }

    [Fact]
    public void Lost_counts_grow_per_nic_across_entries_that_go_and_come_back()
    {
        var lost = new LostCount();
        lost.Start(new Dictionary<uint, ulong> { [1] = 100, [2] = 5 });

        Assert.Equal(0UL, lost.Since(new Dictionary<uint, ulong> { [1] = 100, [2] = 5 }, _ => true));
        Assert.Equal(30UL, lost.Since(new Dictionary<uint, ulong> { [1] = 120, [2] = 15 }, _ => true));
        // NIC 2 left (its entry deleted): what it lost stays counted; NIC 3 appears.
        Assert.Equal(37UL, lost.Since(new Dictionary<uint, ulong> { [1] = 120, [3] = 7 }, _ => true));
        // NIC 2 is back with a new entry from 0.
        Assert.Equal(41UL, lost.Since(new Dictionary<uint, ulong> { [1] = 120, [2] = 4, [3] = 7 }, _ => true));
        Assert.Equal(20UL, lost.Since(new Dictionary<uint, ulong> { [1] = 120, [2] = 4, [3] = 7 }, i => i == 1));
        Assert.Equal(14UL, lost.Since(new Dictionary<uint, ulong> { [1] = 120, [2] = 4, [3] = 7 }, i => i == 2));
    }
}
