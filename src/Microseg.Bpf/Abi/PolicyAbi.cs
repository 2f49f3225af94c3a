// The C# side of bpf/include/abi.h and the names policy.bpf.o exposes. Layout-tested against the
// header; a change here is a change there and bumps SchemaVersion.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microseg.Bpf.Abi;

public static class PolicyAbi
{
    /// <summary>MICROSEG_SCHEMA_VERSION: the layout of the pinned maps.</summary>
    public const int SchemaVersion = 4;

    public const int NicGroupMaxEntries = 65536;

    /// <summary>MARK_GROUP_MASK: the group is the low 16 bits of skb->mark.</summary>
    public const uint MarkGroupMask = 0xffff;

    /// <summary>VERDICT_WORD_SHIFT: a source mark's verdict word is mark >> 6, its bit mark &amp; 63.</summary>
    public const int VerdictWordShift = 6;
    public const int VerdictWordMask = 63;
    /// <summary>VERDICT_WORDS_PER_DST: 65,536 source marks / 64, the most entries one destination group costs.</summary>
    public const int VerdictWordsPerDst = 1024;
    /// <summary>VERDICTS_MAX_DSTS: local destination groups the map holds in the worst case.</summary>
    public const int VerdictsMaxDsts = 1024;
    public const int VerdictsMaxEntries = VerdictsMaxDsts * VerdictWordsPerDst;

    /// <summary>SERVICE_MAX_PORTS: port ranges one services entry holds.</summary>
    public const int ServiceMaxPorts = 16;
    public const int ServicesMaxEntries = 262144;
    public const byte ServiceDeny = 0;
    public const byte ServiceAllow = 1;

    /// <summary>FLOWS_MAX_ENTRIES: the flow table's default size (preallocated; a loader may
    /// change it before load with <see cref="BpfObject.SetMapMaxEntries"/>).</summary>
    public const int FlowsMaxEntries = 131072;
    public const int FlowTimeoutTcpSeconds = 14400;
    public const int FlowTimeoutTcpClosingSeconds = 10;
    public const int FlowTimeoutOtherSeconds = 180;
    public const int FlowRefreshSeconds = 1;
    /// <summary>FLOW_EPOCH_ENTRIES: flow_epoch holds one ulong that changes whenever a flow is
    /// deleted or may have been evicted; each CPU's cached last flow is void once it changed.
    /// The programs add 1; user space writes a new random value (<see cref="FlowEpoch"/>).</summary>
    public const int FlowEpochEntries = 1;
    /// <summary>FLOW_CACHE_JIFFIES: how long (in jiffies) a CPU's cached last flow lets packets
    /// of that flow skip the table.</summary>
    public const int FlowCacheJiffies = 2;
    public const byte FlowFamilyIpv4 = 2;
    public const byte FlowFamilyIpv6 = 10;

    /// <summary>COUNTERS_MAX_ENTRIES: counter slots (a per-CPU array; slot 0 counts what has no slot).</summary>
    public const int CountersMaxEntries = 65536;
    /// <summary>EVENTS_RING_BYTES: the size of the events ring buffer.</summary>
    public const int EventsRingBytes = 256 * 1024;
    public const byte MonVerdictDrop = 0;
    public const byte MonVerdictAllow = 1;
    public const byte MonVerdictAudit = 2;
    public const byte MonReasonRule = 0;
    public const byte MonReasonDefaultDeny = 1;
    public const byte MonReasonReply = 2;
    public const byte MonReasonInfra = 3;
    public const byte MonReasonUnreadable = 4;
    /// <summary>MON_F_FLOWS: monitor_config.flags bit: new allowed flows are reported too.</summary>
    public const uint MonFlagFlows = 1;
    public const uint MonDefaultRate = 100;
    public const uint MonDefaultBurst = 200;

    public const string ObjectFile = "policy.bpf.o";
    public const string NicGroupMap = "nic_group";
    public const string VerdictsMap = "verdicts";
    public const string ServicesMap = "services";
    public const string FlowsMap = "flows";
    public const string CountersMap = "counters";
    public const string EventsMap = "events";
    public const string MonitorMap = "monitor";
    public const string MonitorConfigMap = "monitor_config";
    public const string FlowEpochMap = "flow_epoch";
    public const string IngressProgram = "policy_ingress";
    public const string EgressProgram = "policy_egress";
}

/// <summary>struct verdict_key: a destination group and one word (64 source marks) of its
/// verdicts; SrcHi = source mark >> <see cref="PolicyAbi.VerdictWordShift"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct VerdictKey(ushort Dst, ushort SrcHi)
{
    public readonly ushort Dst = Dst;
    public readonly ushort SrcHi = SrcHi;
}

/// <summary>struct verdict_value: bit (source mark &amp; 63) of Allow set = allowed. Bit of
/// Service set = the pair has service rules: the egress program consults the services map for
/// the packet's protocol, and Allow is the verdict for protocols that map has no entry for.
/// Slots[bit]: the counter slot of that source's deciding rule (or of the destination's
/// default deny).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct VerdictValue : IEquatable<VerdictValue>
{
    public readonly ulong Allow;
    public readonly ulong Service;
    private readonly WordSlots slots;

    public VerdictValue(ulong allow, ulong service = 0, ReadOnlySpan<ushort> slots = default)
    {
        if (slots.Length > PolicyAbi.VerdictWordMask + 1)
            throw new ArgumentException($"a verdict word has {PolicyAbi.VerdictWordMask + 1} slots, not {slots.Length}", nameof(slots));
        Allow = allow;
        Service = service;
        slots.CopyTo(this.slots);
    }

    /// <summary>The 64 counter slots, by source bit.</summary>
    public ReadOnlySpan<ushort> Slots => MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in slots[0]), PolicyAbi.VerdictWordMask + 1);

    public bool Equals(VerdictValue other) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<VerdictValue>(in this)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<VerdictValue>(in other)));

    public override bool Equals(object? obj) => obj is VerdictValue other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Allow, Service, slots[0], slots[63]);

    public static bool operator ==(VerdictValue left, VerdictValue right) => left.Equals(right);

    public static bool operator !=(VerdictValue left, VerdictValue right) => !left.Equals(right);

    public override string ToString() => $"VerdictValue {{ Allow = {Allow:x16}, Service = {Service:x16} }}";

    [InlineArray(64)]
    private struct WordSlots
    {
        private ushort element;
    }
}

/// <summary>struct nic_info, the value of nic_group (keyed by the uint ifindex): the NIC's
/// group, its switches and the counter slots of its group's default deny (or audit), replies
/// and infrastructure passes.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct NicInfo(ushort Group, ushort Flags = 0, ushort DenySlot = 0, ushort ReplySlot = 0, ushort InfraSlot = 0)
{
    public readonly ushort Group = Group;
    public readonly ushort Flags = Flags;
    public readonly ushort DenySlot = DenySlot;
    public readonly ushort ReplySlot = ReplySlot;
    public readonly ushort InfraSlot = InfraSlot;
    private readonly ushort pad;
}

/// <summary>nic_info.flags (NIC_F_*): the switches of the NIC's group.</summary>
[Flags]
public enum NicFlags : ushort
{
    None = 0,
    /// <summary>NIC_F_STATEFUL: replies to flows the guest opened pass.</summary>
    Stateful = 1,
    /// <summary>NIC_F_INFRA: ARP, neighbour discovery and DHCP pass to the guest.</summary>
    Infra = 2,
    /// <summary>NIC_F_AUDIT: what would be dropped passes, counted and reported as audit.</summary>
    Audit = 4,
}

/// <summary>struct service_key: one IP protocol of a (destination group, source mark) pair
/// whose verdict word has the service bit set.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct ServiceKey(ushort Dst, ushort Src, byte Proto)
{
    public readonly ushort Dst = Dst;
    public readonly ushort Src = Src;
    public readonly byte Proto = Proto;
    private readonly byte pad0, pad1, pad2;
}

/// <summary>struct service_port: a destination port range, host byte order, Lo &lt;= Hi.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct ServicePort(ushort Lo, ushort Hi)
{
    public readonly ushort Lo = Lo;
    public readonly ushort Hi = Hi;
}

/// <summary>
/// struct service_value: the packet's destination port in Ports[i] (i &lt; Count) → Actions[i];
/// any other packet of the protocol (or no port) → Otherwise. Actions are
/// <see cref="PolicyAbi.ServiceAllow"/> or <see cref="PolicyAbi.ServiceDeny"/>; ranges disjoint and
/// sorted by Lo (the program stops at the first range above the port).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct ServiceValue : IEquatable<ServiceValue>
{
    public readonly byte Count;
    public readonly byte Otherwise;
    private readonly ServiceActions actions;
    private readonly ushort pad;
    private readonly ServicePorts ports;
    private readonly ServiceSlots slots;
    public readonly ushort OtherwiseSlot;
    private readonly ushort pad2;

    /// <exception cref="ArgumentException">More than <see cref="PolicyAbi.ServiceMaxPorts"/> ranges,
    /// a range with Lo &gt; Hi, or ranges not sorted and disjoint.</exception>
    public ServiceValue(byte otherwise, ReadOnlySpan<(ServicePort Range, byte Action)> ranges)
        : this(otherwise, ranges, default, 0)
    {
    }

    /// <param name="slots">The counter slot of each range's deciding rule (as many as ranges,
    /// or none).</param>
    /// <param name="otherwiseSlot">The counter slot of the rule deciding Otherwise.</param>
    public ServiceValue(byte otherwise, ReadOnlySpan<(ServicePort Range, byte Action)> ranges, ReadOnlySpan<ushort> slots, ushort otherwiseSlot)
    {
        if (slots.Length != 0 && slots.Length != ranges.Length)
            throw new ArgumentException($"{slots.Length} counter slots for {ranges.Length} port ranges", nameof(slots));
        if (ranges.Length > PolicyAbi.ServiceMaxPorts)
            throw new ArgumentException($"a services entry holds at most {PolicyAbi.ServiceMaxPorts} port ranges, not {ranges.Length}", nameof(ranges));
        Otherwise = otherwise;
        Count = (byte)ranges.Length;
        for (int i = 0; i < ranges.Length; i++)
        {
            var (range, action) = ranges[i];
            if (range.Lo > range.Hi)
                throw new ArgumentException($"port range {range.Lo}-{range.Hi} is empty", nameof(ranges));
            if (i > 0 && range.Lo <= ranges[i - 1].Range.Hi)
                throw new ArgumentException($"port range {range.Lo}-{range.Hi} overlaps or precedes {ranges[i - 1].Range.Lo}-{ranges[i - 1].Range.Hi}: ranges must be sorted and disjoint", nameof(ranges));
            actions[i] = action;
            ports[i] = range;
            if (slots.Length != 0) this.slots[i] = slots[i];
        }
        OtherwiseSlot = otherwiseSlot;
    }

    public ReadOnlySpan<ushort> Slots => MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in slots[0]), Count);

    public ReadOnlySpan<byte> Actions => MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in actions[0]), Count);

    public ReadOnlySpan<ServicePort> Ports => MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in ports[0]), Count);

    public bool Equals(ServiceValue other) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<ServiceValue>(in this)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<ServiceValue>(in other)));

    public override bool Equals(object? obj) => obj is ServiceValue other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(MemoryMarshal.AsBytes(new ReadOnlySpan<ServiceValue>(in this)));
        return hash.ToHashCode();
    }

    public static bool operator ==(ServiceValue left, ServiceValue right) => left.Equals(right);

    public static bool operator !=(ServiceValue left, ServiceValue right) => !left.Equals(right);

    public override string ToString()
    {
        var ranges = new List<string>(Count);
        for (int i = 0; i < Count; i++)
            ranges.Add($"{ports[i].Lo}-{ports[i].Hi}:{(actions[i] == PolicyAbi.ServiceAllow ? "allow" : "deny")}");
        return $"ServiceValue {{ {string.Join(", ", ranges)}{(Count > 0 ? ", " : "")}otherwise {(Otherwise == PolicyAbi.ServiceAllow ? "allow" : "deny")} }}";
    }

    [InlineArray(PolicyAbi.ServiceMaxPorts)]
    private struct ServiceActions
    {
        private byte element;
    }

    [InlineArray(PolicyAbi.ServiceMaxPorts)]
    private struct ServicePorts
    {
        private ServicePort element;
    }

    [InlineArray(PolicyAbi.ServiceMaxPorts)]
    private struct ServiceSlots
    {
        private ushort element;
    }
}

/// <summary>An IPv4 or IPv6 address as struct flow_key holds it: 16 bytes, network byte order,
/// IPv4 in the first 4 and the rest 0.</summary>
[InlineArray(16)]
public struct FlowAddress
{
    private byte element;

    public static FlowAddress From(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var result = default(FlowAddress);
        if (!address.TryWriteBytes(result, out _))
            throw new ArgumentException($"{address} is not an IPv4 or IPv6 address", nameof(address));
        return result;
    }

    public readonly IPAddress ToIPAddress(byte family) => family == PolicyAbi.FlowFamilyIpv4
        ? new IPAddress(((ReadOnlySpan<byte>)this)[..4])
        : new IPAddress((ReadOnlySpan<byte>)this);
}

/// <summary>
/// struct flow_key: a flow as the guest sent it, on the NIC it left through. Ports are stored
/// in network byte order (<see cref="SourcePort"/>/<see cref="DestinationPort"/> give them in
/// host order); for ICMP echo both hold the echo id, for protocols without ports both are 0.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct FlowKey
{
    public readonly uint IfIndex;
    public readonly byte Family;
    public readonly byte Proto;
    private readonly ushort pad;
    public readonly FlowAddress Saddr;
    public readonly FlowAddress Daddr;
    public readonly ushort SportNetwork;
    public readonly ushort DportNetwork;

    public FlowKey(uint ifIndex, IPAddress source, IPAddress destination, byte proto, ushort sourcePort, ushort destinationPort)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        if (source.AddressFamily != destination.AddressFamily)
            throw new ArgumentException($"flow {source} -> {destination} mixes address families");
        IfIndex = ifIndex;
        Family = source.AddressFamily == AddressFamily.InterNetwork ? PolicyAbi.FlowFamilyIpv4 : PolicyAbi.FlowFamilyIpv6;
        Proto = proto;
        Saddr = FlowAddress.From(source);
        Daddr = FlowAddress.From(destination);
        SportNetwork = BinaryPrimitives.ReverseEndianness(sourcePort);
        DportNetwork = BinaryPrimitives.ReverseEndianness(destinationPort);
    }

    public IPAddress Source => Saddr.ToIPAddress(Family);
    public IPAddress Destination => Daddr.ToIPAddress(Family);
    public ushort SourcePort => BinaryPrimitives.ReverseEndianness(SportNetwork);
    public ushort DestinationPort => BinaryPrimitives.ReverseEndianness(DportNetwork);

    public bool Equals(FlowKey other) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKey>(in this)).SequenceEqual(MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKey>(in other)));

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKey>(in this)));
        return hash.ToHashCode();
    }

    public override string ToString() =>
        $"FlowKey {{ if {IfIndex}, proto {Proto}, {Source}:{SourcePort} -> {Destination}:{DestinationPort} }}";
}

/// <summary>struct flow_value: when the flow was last seen (bpf_ktime_get_coarse_ns: CLOCK_MONOTONIC in ns, tick resolution)
/// and its FLOW_F_* flags.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct FlowValue(ulong LastSeen, FlowFlags Flags = FlowFlags.None)
{
    public readonly ulong LastSeen = LastSeen;
    public readonly FlowFlags Flags = Flags;
    private readonly uint pad;
}

/// <summary>flow_value.flags (FLOW_F_*).</summary>
[Flags]
public enum FlowFlags : uint
{
    None = 0,
    /// <summary>FLOW_F_FIN_OUT: the guest sent a FIN.</summary>
    FinOut = 1,
    /// <summary>FLOW_F_FIN_IN: the peer sent a FIN.</summary>
    FinIn = 2,
}

/// <summary>struct counter: one slot's packets and bytes on one CPU (the per-CPU array gives one
/// per possible CPU; the reader sums them).</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct Counter(ulong Packets, ulong Bytes)
{
    public readonly ulong Packets = Packets;
    public readonly ulong Bytes = Bytes;
}

/// <summary>struct monitor_config, the one entry of monitor_config: events per second and burst
/// per NIC (Rate 0: no events) and MON_F_* flags.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct MonitorConfig(uint Rate, uint Burst, uint Flags = 0)
{
    public readonly uint Rate = Rate;
    public readonly uint Burst = Burst;
    public readonly uint Flags = Flags;
    private readonly uint pad;
}

/// <summary>struct monitor_state, the value of monitor (keyed by the uint ifindex of a guest
/// NIC): its token bucket (GCRA: the theoretical arrival time, ns) and its events sent and lost.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct MonitorState(ulong Tat, ulong Sent, ulong Lost)
{
    public readonly ulong Tat = Tat;
    public readonly ulong Sent = Sent;
    public readonly ulong Lost = Lost;
}

/// <summary>struct monitor_event, one record of the events ring (64 bytes). Ports and
/// addresses in network byte order, as the packet carried them.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct MonitorEvent
{
    public readonly ulong TimeNs;
    public readonly uint IfIndex;
    public readonly uint Len;
    public readonly ushort Src;
    public readonly ushort Dst;
    public readonly ushort SportNetwork;
    public readonly ushort DportNetwork;
    public readonly byte Family;
    public readonly byte Proto;
    public readonly byte Verdict;
    public readonly byte Reason;
    public readonly uint Slot;
    public readonly FlowAddress Saddr;
    public readonly FlowAddress Daddr;

    /// <summary>Reads one record as the ring holds it.</summary>
    /// <exception cref="ArgumentException">Fewer bytes than a record.</exception>
    public static MonitorEvent Read(ReadOnlySpan<byte> record)
    {
        if (record.Length < Unsafe.SizeOf<MonitorEvent>())
            throw new ArgumentException($"a monitor event is {Unsafe.SizeOf<MonitorEvent>()} bytes, not {record.Length}", nameof(record));
        return MemoryMarshal.Read<MonitorEvent>(record);
    }

    public ushort SourcePort => BinaryPrimitives.ReverseEndianness(SportNetwork);
    public ushort DestinationPort => BinaryPrimitives.ReverseEndianness(DportNetwork);

    /// <summary>The addresses, or null for a packet that is not IP.</summary>
    public IPAddress? Source => Family == 0 ? null : Saddr.ToIPAddress(Family);
    public IPAddress? Destination => Family == 0 ? null : Daddr.ToIPAddress(Family);

    public override string ToString() =>
        $"MonitorEvent {{ if {IfIndex}, {Src} -> {Dst}, proto {Proto}, {Source}:{SourcePort} -> {Destination}:{DestinationPort}, verdict {Verdict}, reason {Reason}, slot {Slot}, len {Len} }}";
}

/// <summary>flow_epoch, seen from user space: whoever deletes or writes entries of the flows map
/// or of the services map calls <see cref="Invalidate"/> afterwards, so that no CPU keeps letting
/// packets of a removed flow skip the table, nor decides by a services entry that changed (the
/// programs cache the last flow they found live and the last services decision, for as long as
/// the epoch they found it in stays).</summary>
public static class FlowEpoch
{
    /// <summary>Writes a random value other than the current one. Not read-modify-write (the
    /// programs add to it concurrently): a fresh random value is one no cache holds.</summary>
    public static void Invalidate(BpfArrayMap<ulong> epoch)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        ulong current = epoch[0], next;
        do next = (ulong)Random.Shared.NextInt64() ^ ((ulong)Random.Shared.Next() << 63);
        while (next == current);
        epoch[0] = next;
    }
}
