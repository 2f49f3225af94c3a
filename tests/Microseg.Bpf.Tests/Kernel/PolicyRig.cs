// policy.bpf.o loaded in a test's bpffs, with lo (ifindex 1, the one interface BPF_PROG_TEST_RUN
// accepts in any namespace) playing a guest NIC of group Dst, and helpers to set its switches,
// the verdict word and services entries of source group Src, and to run frames through the
// two programs. The guest's addresses are Guest/Guest6, its peer's Peer/Peer6.
using System.Net;
using Microseg.Bpf.Abi;

namespace Microseg.Bpf.Tests.Kernel;

internal sealed class PolicyRig : IDisposable
{
    public const uint Nic = 1;
    public const ushort Dst = 20, Src = 11;
    public static readonly IPAddress Guest = IPAddress.Parse("10.0.0.2"), Peer = IPAddress.Parse("10.0.0.1");
    public static readonly IPAddress Guest6 = IPAddress.Parse("fd00::2"), Peer6 = IPAddress.Parse("fd00::1");

    private readonly TempBpffs bpffs = new();
    private readonly BpfObject policy;
    private readonly BpfProgram ingress, egress;

    public PolicyRig(NicFlags flags, uint? flowsMaxEntries = null)
    {
        try
        {
            policy = PolicyObject.Load(bpffs, flowsMaxEntries: flowsMaxEntries);
            ingress = policy.Program(PolicyAbi.IngressProgram);
            egress = policy.Program(PolicyAbi.EgressProgram);
            Nics = PolicyObject.NicGroup(policy);
            Verdicts = PolicyObject.Verdicts(policy);
            Services = PolicyObject.Services(policy);
            Flows = PolicyObject.Flows(policy);
            Counters = new BpfArrayMap<Counter>(policy.Map(PolicyAbi.CountersMap));
            MonitorConfig = new BpfArrayMap<MonitorConfig>(policy.Map(PolicyAbi.MonitorConfigMap));
            Monitor = new BpfHashMap<uint, MonitorState>(policy.Map(PolicyAbi.MonitorMap));
            Events = policy.Map(PolicyAbi.EventsMap);
            SetFlags(flags);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public BpfHashMap<uint, NicInfo> Nics { get; } = null!;
    public BpfHashMap<VerdictKey, VerdictValue> Verdicts { get; } = null!;
    public BpfHashMap<ServiceKey, ServiceValue> Services { get; } = null!;
    public BpfHashMap<FlowKey, FlowValue> Flows { get; } = null!;
    public BpfArrayMap<Counter> Counters { get; } = null!;
    public BpfArrayMap<MonitorConfig> MonitorConfig { get; } = null!;
    public BpfHashMap<uint, MonitorState> Monitor { get; } = null!;
    public BpfMap Events { get; } = null!;

    /// <summary>A counter slot summed over the CPUs.</summary>
    public Counter Count(uint slot)
    {
        var perCpu = new Counter[Counters.Cpus];
        Counters.LookupPerCpu(slot, perCpu);
        return new Counter((ulong)perCpu.Sum(c => (long)c.Packets), (ulong)perCpu.Sum(c => (long)c.Bytes));
    }

    public void SetFlags(NicFlags flags) => Nics.Update(Nic, new NicInfo(Dst, (ushort)flags));

    /// <summary>Source src's allow and service bits in Dst's verdict word. The other sources of
    /// a new word are all allowed, without service rules, so that only src's bits matter; those
    /// of an existing word are kept.</summary>
    public void SetWord(bool allow, bool service = false, ushort src = Src)
    {
        ulong bit = PolicyObject.BitOf(src);
        var key = PolicyObject.WordOf(src, Dst);
        var word = Verdicts.TryLookup(key, out var present) ? present : new VerdictValue(~0UL, 0);
        Verdicts.Update(key, new VerdictValue((word.Allow & ~bit) | (allow ? bit : 0), (word.Service & ~bit) | (service ? bit : 0)));
    }

    public void SetService(byte proto, bool otherwise, params (ushort Lo, ushort Hi, bool Allow)[] ranges) =>
        Services.Update(new ServiceKey(Dst, Src, proto), new ServiceValue(Action(otherwise),
            ranges.Select(r => (new ServicePort(r.Lo, r.Hi), Action(r.Allow))).ToArray()));

    private static byte Action(bool allow) => allow ? PolicyAbi.ServiceAllow : PolicyAbi.ServiceDeny;

    /// <summary>Runs the egress program (a packet to the guest) from source mark src.</summary>
    public int Egress(byte[] frame, ushort src = Src) =>
        ProgramTestRun.Run(egress, frame, new SkBuff { Mark = 0x5a5a0000u | src, IfIndex = Nic }).ReturnValue;

    /// <summary>Runs the ingress program (a packet from the guest); returns its return value.</summary>
    public int Ingress(byte[] frame) => IngressRun(frame).ReturnValue;

    public TestRunResult IngressRun(byte[] frame, uint mark = 0) => ProgramTestRun.Run(ingress, frame, new SkBuff { Mark = mark, IfIndex = Nic });

    public string EgressName(byte[] frame, ushort src = Src) => Egress(frame, src) switch
    {
        Tcx.Pass => "pass",
        Tcx.Drop => "drop",
        var other => other.ToString(),
    };

    /// <summary>The programs' clock (bpf_ktime_get_coarse_ns), read through a flow the
    /// ingress program records and that is deleted again.</summary>
    public ulong Now()
    {
        var probe = TestFrames.UdpPacket(IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2"), 1, 1);
        var key = new FlowKey(Nic, IPAddress.Parse("192.0.2.1"), IPAddress.Parse("192.0.2.2"), TestFrames.Udp, 1, 1);
        var before = Nics.TryLookup(Nic, out var nic) ? nic : default;
        Nics.Update(Nic, new NicInfo(Dst, (ushort)NicFlags.Stateful));
        Assert.Equal(Tcx.Pass, Ingress(probe));
        Nics.Update(Nic, before);
        Assert.True(Flows.TryLookup(key, out var value), "the probe flow was not recorded");
        Flows.Delete(key);
        return value.LastSeen;
    }

    public void Dispose()
    {
        Flows?.Dispose();
        Counters?.Dispose();
        MonitorConfig?.Dispose();
        Monitor?.Dispose();
        Events?.Dispose();
        Services?.Dispose();
        Verdicts?.Dispose();
        Nics?.Dispose();
        egress?.Dispose();
        ingress?.Dispose();
        policy?.Dispose();
        bpffs.Dispose();
    }
}
