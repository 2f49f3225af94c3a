// Every struct mirrored from C against the header it mirrors (STYLE: layout tier).
using Microseg.Bpf.Abi;
using Libbpf = Interop.Libbpf;
using Libc = Interop.Libc;

namespace Microseg.Bpf.Tests;

public sealed class LayoutTests
{
    [Fact]
    public void Abi_structs_and_constants_match_abi_h()
    {
        new CLayout("\"abi.h\"")
            .Size<VerdictKey>("struct verdict_key")
            .Offset<VerdictKey>("Dst", "struct verdict_key", "dst")
            .Offset<VerdictKey>("SrcHi", "struct verdict_key", "src_hi")
            .Size<VerdictValue>("struct verdict_value")
            .Offset<VerdictValue>("Allow", "struct verdict_value", "allow")
            .Offset<VerdictValue>("Service", "struct verdict_value", "service")
            .Offset<VerdictValue>("slots", "struct verdict_value", "slots")
            .Constant("sizeof(((struct verdict_value *)0)->slots) / sizeof(__u16)", PolicyAbi.VerdictWordMask + 1)
            .Assert("_Alignof(struct verdict_value) == 8", "struct verdict_value is not 8-byte aligned")
            .Size<NicInfo>("struct nic_info")
            .Offset<NicInfo>("Group", "struct nic_info", "group")
            .Offset<NicInfo>("Flags", "struct nic_info", "flags")
            .Offset<NicInfo>("DenySlot", "struct nic_info", "deny_slot")
            .Offset<NicInfo>("ReplySlot", "struct nic_info", "reply_slot")
            .Offset<NicInfo>("InfraSlot", "struct nic_info", "infra_slot")
            .Constant("MICROSEG_SCHEMA_VERSION", PolicyAbi.SchemaVersion)
            .Constant("NIC_GROUP_MAX_ENTRIES", PolicyAbi.NicGroupMaxEntries)
            .Constant("VERDICTS_MAX_ENTRIES", PolicyAbi.VerdictsMaxEntries)
            .Constant("MARK_GROUP_MASK", PolicyAbi.MarkGroupMask)
            .Constant("VERDICT_WORD_SHIFT", PolicyAbi.VerdictWordShift)
            .Constant("VERDICT_WORD_MASK", PolicyAbi.VerdictWordMask)
            .Constant("VERDICT_WORDS_PER_DST", PolicyAbi.VerdictWordsPerDst)
            .Constant("VERDICTS_MAX_DSTS", PolicyAbi.VerdictsMaxDsts)
            // Every source mark has a word and a bit: 1,024 words x 64 bits = the 16-bit mark space.
            .Constant("VERDICT_WORDS_PER_DST << VERDICT_WORD_SHIFT", PolicyAbi.MarkGroupMask + 1)
            .Constant("VERDICT_WORD_MASK + 1", 8 * sizeof(ulong))
            .Compile();
    }

    [Fact]
    public void Service_and_flow_structs_and_constants_match_abi_h()
    {
        new CLayout("\"abi.h\"")
            .Constant("NIC_F_STATEFUL", (long)NicFlags.Stateful)
            .Constant("NIC_F_INFRA", (long)NicFlags.Infra)
            .Constant("NIC_F_AUDIT", (long)NicFlags.Audit)
            .Size<ServiceKey>("struct service_key")
            .Offset<ServiceKey>("Dst", "struct service_key", "dst")
            .Offset<ServiceKey>("Src", "struct service_key", "src")
            .Offset<ServiceKey>("Proto", "struct service_key", "proto")
            .Size<ServicePort>("struct service_port")
            .Offset<ServicePort>("Lo", "struct service_port", "lo")
            .Offset<ServicePort>("Hi", "struct service_port", "hi")
            .Size<ServiceValue>("struct service_value")
            .Offset<ServiceValue>("Count", "struct service_value", "count")
            .Offset<ServiceValue>("Otherwise", "struct service_value", "otherwise")
            .Offset<ServiceValue>("actions", "struct service_value", "actions")
            .Offset<ServiceValue>("ports", "struct service_value", "ports")
            .Offset<ServiceValue>("slots", "struct service_value", "slots")
            .Offset<ServiceValue>("OtherwiseSlot", "struct service_value", "otherwise_slot")
            .Constant("SERVICE_MAX_PORTS", PolicyAbi.ServiceMaxPorts)
            .Constant("SERVICES_MAX_ENTRIES", PolicyAbi.ServicesMaxEntries)
            .Constant("SERVICE_ALLOW", PolicyAbi.ServiceAllow)
            .Constant("SERVICE_DENY", PolicyAbi.ServiceDeny)
            .Size<FlowKey>("struct flow_key")
            .Offset<FlowKey>("IfIndex", "struct flow_key", "ifindex")
            .Offset<FlowKey>("Family", "struct flow_key", "family")
            .Offset<FlowKey>("Proto", "struct flow_key", "proto")
            .Offset<FlowKey>("Saddr", "struct flow_key", "saddr")
            .Offset<FlowKey>("Daddr", "struct flow_key", "daddr")
            .Offset<FlowKey>("SportNetwork", "struct flow_key", "sport")
            .Offset<FlowKey>("DportNetwork", "struct flow_key", "dport")
            .Constant("sizeof(((struct flow_key *)0)->saddr)", 16)
            .Size<FlowValue>("struct flow_value")
            .Offset<FlowValue>("LastSeen", "struct flow_value", "last_seen")
            .Offset<FlowValue>("Flags", "struct flow_value", "flags")
            .Constant("FLOWS_MAX_ENTRIES", PolicyAbi.FlowsMaxEntries)
            .Constant("FLOW_FAMILY_IPV4", PolicyAbi.FlowFamilyIpv4)
            .Constant("FLOW_FAMILY_IPV6", PolicyAbi.FlowFamilyIpv6)
            .Constant("FLOW_F_FIN_OUT", (long)FlowFlags.FinOut)
            .Constant("FLOW_F_FIN_IN", (long)FlowFlags.FinIn)
            .Constant("FLOW_TIMEOUT_TCP_SEC", PolicyAbi.FlowTimeoutTcpSeconds)
            .Constant("FLOW_TIMEOUT_TCP_CLOSING_SEC", PolicyAbi.FlowTimeoutTcpClosingSeconds)
            .Constant("FLOW_TIMEOUT_OTHER_SEC", PolicyAbi.FlowTimeoutOtherSeconds)
            .Constant("FLOW_REFRESH_SEC", PolicyAbi.FlowRefreshSeconds)
            .Compile();
    }

    [Fact]
    public void Counter_and_monitor_structs_and_constants_match_abi_h()
    {
        new CLayout("\"abi.h\"")
            .Size<Counter>("struct counter")
            .Offset<Counter>("Packets", "struct counter", "packets")
            .Offset<Counter>("Bytes", "struct counter", "bytes")
            .Size<MonitorConfig>("struct monitor_config")
            .Offset<MonitorConfig>("Rate", "struct monitor_config", "rate")
            .Offset<MonitorConfig>("Burst", "struct monitor_config", "burst")
            .Offset<MonitorConfig>("Flags", "struct monitor_config", "flags")
            .Size<MonitorState>("struct monitor_state")
            .Offset<MonitorState>("Tat", "struct monitor_state", "tat")
            .Offset<MonitorState>("Sent", "struct monitor_state", "sent")
            .Offset<MonitorState>("Lost", "struct monitor_state", "lost")
            .Size<MonitorEvent>("struct monitor_event")
            .Constant("sizeof(struct monitor_event)", 64)
            .Offset<MonitorEvent>("TimeNs", "struct monitor_event", "time_ns")
            .Offset<MonitorEvent>("IfIndex", "struct monitor_event", "ifindex")
            .Offset<MonitorEvent>("Len", "struct monitor_event", "len")
            .Offset<MonitorEvent>("Src", "struct monitor_event", "src")
            .Offset<MonitorEvent>("Dst", "struct monitor_event", "dst")
            .Offset<MonitorEvent>("SportNetwork", "struct monitor_event", "sport")
            .Offset<MonitorEvent>("DportNetwork", "struct monitor_event", "dport")
            .Offset<MonitorEvent>("Family", "struct monitor_event", "family")
            .Offset<MonitorEvent>("Proto", "struct monitor_event", "proto")
            .Offset<MonitorEvent>("Verdict", "struct monitor_event", "verdict")
            .Offset<MonitorEvent>("Reason", "struct monitor_event", "reason")
            .Offset<MonitorEvent>("Slot", "struct monitor_event", "slot")
            .Offset<MonitorEvent>("Saddr", "struct monitor_event", "saddr")
            .Offset<MonitorEvent>("Daddr", "struct monitor_event", "daddr")
            .Constant("COUNTERS_MAX_ENTRIES", PolicyAbi.CountersMaxEntries)
            .Constant("EVENTS_RING_BYTES", PolicyAbi.EventsRingBytes)
            .Constant("MON_VERDICT_DROP", PolicyAbi.MonVerdictDrop)
            .Constant("MON_VERDICT_ALLOW", PolicyAbi.MonVerdictAllow)
            .Constant("MON_VERDICT_AUDIT", PolicyAbi.MonVerdictAudit)
            .Constant("MON_REASON_RULE", PolicyAbi.MonReasonRule)
            .Constant("MON_REASON_DEFAULT_DENY", PolicyAbi.MonReasonDefaultDeny)
            .Constant("MON_REASON_REPLY", PolicyAbi.MonReasonReply)
            .Constant("MON_REASON_INFRA", PolicyAbi.MonReasonInfra)
            .Constant("MON_REASON_UNREADABLE", PolicyAbi.MonReasonUnreadable)
            .Constant("MON_F_FLOWS", PolicyAbi.MonFlagFlows)
            .Constant("MON_DEFAULT_RATE", PolicyAbi.MonDefaultRate)
            .Constant("MON_DEFAULT_BURST", PolicyAbi.MonDefaultBurst)
            // A slot is a __u16 in every value that carries one: the map's indexes fit exactly.
            .Constant("COUNTERS_MAX_ENTRIES - 1", ushort.MaxValue)
            .Compile();
    }

    [Fact]
    public void Monitor_event_reads_a_record_as_the_kernel_writes_it()
    {
        var bytes = new byte[64];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), 123456789UL);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), 7u);
        BitConverter.TryWriteBytes(bytes.AsSpan(12), 74u);
        BitConverter.TryWriteBytes(bytes.AsSpan(16), (ushort)11);
        BitConverter.TryWriteBytes(bytes.AsSpan(18), (ushort)20);
        bytes[20] = 0x9c; bytes[21] = 0x40; bytes[22] = 0; bytes[23] = 22; // 40000 -> 22
        bytes[24] = PolicyAbi.FlowFamilyIpv4; bytes[25] = 6; bytes[26] = PolicyAbi.MonVerdictDrop; bytes[27] = PolicyAbi.MonReasonRule;
        BitConverter.TryWriteBytes(bytes.AsSpan(28), 5u);
        bytes[32] = 10; bytes[35] = 1; bytes[48] = 10; bytes[51] = 2;
        var e = MonitorEvent.Read(bytes);
        Assert.Equal((123456789UL, 7u, 74u, (ushort)11, (ushort)20), (e.TimeNs, e.IfIndex, e.Len, e.Src, e.Dst));
        Assert.Equal((40000, 22), ((int)e.SourcePort, (int)e.DestinationPort));
        Assert.Equal(("10.0.0.1", "10.0.0.2"), (e.Source!.ToString(), e.Destination!.ToString()));
        Assert.Equal((6, PolicyAbi.MonVerdictDrop, PolicyAbi.MonReasonRule, 5u), (e.Proto, e.Verdict, e.Reason, e.Slot));
        Assert.Throws<ArgumentException>(() => MonitorEvent.Read(bytes.AsSpan(0, 63)));
    }

    [Fact]
    public void Service_value_keeps_its_ranges_and_refuses_a_bad_list()
    {
        var value = new ServiceValue(PolicyAbi.ServiceDeny,
            [(new ServicePort(22, 22), PolicyAbi.ServiceAllow), (new ServicePort(8000, 8080), PolicyAbi.ServiceAllow)]);
        Assert.Equal(2, value.Count);
        Assert.Equal([new ServicePort(22, 22), new ServicePort(8000, 8080)], value.Ports.ToArray());
        Assert.Equal([PolicyAbi.ServiceAllow, PolicyAbi.ServiceAllow], value.Actions.ToArray());
        Assert.Equal("ServiceValue { 22-22:allow, 8000-8080:allow, otherwise deny }", value.ToString());

        var ranges = Enumerable.Range(0, 17).Select(i => (new ServicePort((ushort)(i * 10), (ushort)(i * 10 + 1)), PolicyAbi.ServiceAllow)).ToArray();
        Assert.Contains("at most 16", Assert.Throws<ArgumentException>(() => new ServiceValue(0, ranges)).Message);
        Assert.Contains("overlaps", Assert.Throws<ArgumentException>(() => new ServiceValue(0, [(new ServicePort(10, 20), 1), (new ServicePort(20, 30), 1)])).Message);
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => new ServiceValue(0, [(new ServicePort(20, 10), 1)])).Message);
    }

    [Fact]
    public void Flow_key_holds_addresses_and_ports_in_network_byte_order()
    {
        var key = new FlowKey(7, System.Net.IPAddress.Parse("10.0.0.1"), System.Net.IPAddress.Parse("10.0.0.2"), 6, 40000, 443);
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKey>(in key)).ToArray();
        Assert.Equal(new byte[] { 7, 0, 0, 0, PolicyAbi.FlowFamilyIpv4, 6, 0, 0, 10, 0, 0, 1 }, bytes[..12]);
        Assert.All(bytes[12..24], b => Assert.Equal(0, b));
        Assert.Equal(new byte[] { 10, 0, 0, 2 }, bytes[24..28]);
        Assert.Equal(new byte[] { 0x9c, 0x40, 0x01, 0xbb }, bytes[40..44]);
        Assert.Equal(40000, key.SourcePort);
        Assert.Equal("10.0.0.2", key.Destination.ToString());

        var v6 = new FlowKey(7, System.Net.IPAddress.Parse("fd00::1"), System.Net.IPAddress.Parse("fd00::2"), 17, 1, 2);
        Assert.Equal(PolicyAbi.FlowFamilyIpv6, v6.Family);
        Assert.Equal("fd00::1", v6.Source.ToString());
        Assert.NotEqual(key, v6);
        Assert.Equal(key, new FlowKey(7, System.Net.IPAddress.Parse("10.0.0.1"), System.Net.IPAddress.Parse("10.0.0.2"), 6, 40000, 443));
    }

    [Fact]
    public void Libbpf_opts_match_libbpf_headers()
    {
        new CLayout("<bpf/bpf.h>", "<bpf/libbpf.h>")
            .Size<Libbpf.bpf_test_run_opts>("struct bpf_test_run_opts")
            .Offset<Libbpf.bpf_test_run_opts>("sz", "struct bpf_test_run_opts", "sz")
            .Offset<Libbpf.bpf_test_run_opts>("data_in", "struct bpf_test_run_opts", "data_in")
            .Offset<Libbpf.bpf_test_run_opts>("data_out", "struct bpf_test_run_opts", "data_out")
            .Offset<Libbpf.bpf_test_run_opts>("data_size_in", "struct bpf_test_run_opts", "data_size_in")
            .Offset<Libbpf.bpf_test_run_opts>("data_size_out", "struct bpf_test_run_opts", "data_size_out")
            .Offset<Libbpf.bpf_test_run_opts>("ctx_in", "struct bpf_test_run_opts", "ctx_in")
            .Offset<Libbpf.bpf_test_run_opts>("ctx_out", "struct bpf_test_run_opts", "ctx_out")
            .Offset<Libbpf.bpf_test_run_opts>("ctx_size_in", "struct bpf_test_run_opts", "ctx_size_in")
            .Offset<Libbpf.bpf_test_run_opts>("ctx_size_out", "struct bpf_test_run_opts", "ctx_size_out")
            .Offset<Libbpf.bpf_test_run_opts>("retval", "struct bpf_test_run_opts", "retval")
            .Offset<Libbpf.bpf_test_run_opts>("repeat", "struct bpf_test_run_opts", "repeat")
            .Offset<Libbpf.bpf_test_run_opts>("duration", "struct bpf_test_run_opts", "duration")
            .Offset<Libbpf.bpf_test_run_opts>("flags", "struct bpf_test_run_opts", "flags")
            .Offset<Libbpf.bpf_test_run_opts>("cpu", "struct bpf_test_run_opts", "cpu")
            .Offset<Libbpf.bpf_test_run_opts>("batch_size", "struct bpf_test_run_opts", "batch_size")
            .Size<Libbpf.bpf_object_open_opts>("struct bpf_object_open_opts")
            .Offset<Libbpf.bpf_object_open_opts>("sz", "struct bpf_object_open_opts", "sz")
            .Offset<Libbpf.bpf_object_open_opts>("object_name", "struct bpf_object_open_opts", "object_name")
            .Offset<Libbpf.bpf_object_open_opts>("relaxed_maps", "struct bpf_object_open_opts", "relaxed_maps")
            .Offset<Libbpf.bpf_object_open_opts>("pin_root_path", "struct bpf_object_open_opts", "pin_root_path")
            .Offset<Libbpf.bpf_object_open_opts>("kconfig", "struct bpf_object_open_opts", "kconfig")
            .Offset<Libbpf.bpf_object_open_opts>("btf_custom_path", "struct bpf_object_open_opts", "btf_custom_path")
            .Offset<Libbpf.bpf_object_open_opts>("kernel_log_buf", "struct bpf_object_open_opts", "kernel_log_buf")
            .Offset<Libbpf.bpf_object_open_opts>("kernel_log_size", "struct bpf_object_open_opts", "kernel_log_size")
            .Offset<Libbpf.bpf_object_open_opts>("kernel_log_level", "struct bpf_object_open_opts", "kernel_log_level")
            .Compile();
    }

    [Fact]
    public void Kernel_structs_match_the_uapi_header()
    {
        var layout = new CLayout("<linux/bpf.h>")
            .Size<SkBuff>("struct __sk_buff")
            .SizeAtMost<Libbpf.bpf_prog_info>("struct bpf_prog_info")
            .Offset<Libbpf.bpf_prog_info>("type", "struct bpf_prog_info", "type")
            .Offset<Libbpf.bpf_prog_info>("id", "struct bpf_prog_info", "id")
            .Offset<Libbpf.bpf_prog_info>("tag", "struct bpf_prog_info", "tag")
            .Offset<Libbpf.bpf_prog_info>("jited_prog_insns", "struct bpf_prog_info", "jited_prog_insns")
            .Offset<Libbpf.bpf_prog_info>("xlated_prog_insns", "struct bpf_prog_info", "xlated_prog_insns")
            .Offset<Libbpf.bpf_prog_info>("map_ids", "struct bpf_prog_info", "map_ids")
            .Offset<Libbpf.bpf_prog_info>("name", "struct bpf_prog_info", "name")
            .SizeAtMost<Libbpf.bpf_map_info>("struct bpf_map_info")
            .Offset<Libbpf.bpf_map_info>("type", "struct bpf_map_info", "type")
            .Offset<Libbpf.bpf_map_info>("id", "struct bpf_map_info", "id")
            .Offset<Libbpf.bpf_map_info>("key_size", "struct bpf_map_info", "key_size")
            .Offset<Libbpf.bpf_map_info>("value_size", "struct bpf_map_info", "value_size")
            .Offset<Libbpf.bpf_map_info>("max_entries", "struct bpf_map_info", "max_entries")
            .Offset<Libbpf.bpf_map_info>("map_flags", "struct bpf_map_info", "map_flags")
            .Offset<Libbpf.bpf_map_info>("name", "struct bpf_map_info", "name")
            // Debian's header predates tcx (its struct is 48 bytes, ours the kernel's 64); its
            // xdp { ifindex } and netns { netns_ino; attach_type } members share tcx's
            // { ifindex; attach_type } shape at the union's start. Kernel/KernelBtfLayoutTests
            // checks the tcx member and the size against the running kernel's BTF.
            .Offset<Libbpf.bpf_link_info>("type", "struct bpf_link_info", "type")
            .Offset<Libbpf.bpf_link_info>("id", "struct bpf_link_info", "id")
            .Offset<Libbpf.bpf_link_info>("prog_id", "struct bpf_link_info", "prog_id")
            .Offset<Libbpf.bpf_link_info>("tcx_ifindex", "struct bpf_link_info", "xdp.ifindex")
            .Offset<Libbpf.bpf_link_info>("tcx_attach_type", "struct bpf_link_info", "netns.attach_type")
            .Assert("_Alignof(struct bpf_link_info) == 8", "struct bpf_link_info is not 8-byte aligned");
        foreach (var (cs, c) in SkBuffFields)
            layout.Offset<SkBuff>(cs, "struct __sk_buff", c);
        layout.Compile();
    }

    [Fact]
    public void Libc_structs_match_glibc()
    {
        new CLayout("<sys/statfs.h>")
            .Size<Libc.statfs_t>("struct statfs")
            .Offset<Libc.statfs_t>("f_type", "struct statfs", "f_type")
            .Offset<Libc.statfs_t>("f_fsid", "struct statfs", "f_fsid")
            .Offset<Libc.statfs_t>("f_flags", "struct statfs", "f_flags")
            .Constant("sizeof(((struct statfs *)0)->f_type)", sizeof(long))
            .Compile();
    }

    [Fact]
    public void A_drifted_mirror_fails_to_compile()
    {
        var wrong = new CLayout("\"abi.h\"").Assert("sizeof(struct verdict_key) == 5", "deliberately wrong");
        Assert.Throws<Xunit.Sdk.XunitException>(() => wrong.Compile());
    }

    internal static readonly (string CSharp, string C)[] SkBuffFields =
    [
        ("Len", "len"), ("PktType", "pkt_type"), ("Mark", "mark"), ("QueueMapping", "queue_mapping"),
        ("Protocol", "protocol"), ("VlanPresent", "vlan_present"), ("VlanTci", "vlan_tci"),
        ("VlanProto", "vlan_proto"), ("Priority", "priority"), ("IngressIfIndex", "ingress_ifindex"),
        ("IfIndex", "ifindex"), ("TcIndex", "tc_index"), ("Hash", "hash"), ("TcClassId", "tc_classid"),
        ("Data", "data"), ("DataEnd", "data_end"), ("NapiId", "napi_id"), ("Family", "family"),
        ("RemoteIp4", "remote_ip4"), ("LocalIp4", "local_ip4"), ("RemotePort", "remote_port"),
        ("LocalPort", "local_port"), ("DataMeta", "data_meta"), ("Tstamp", "tstamp"),
        ("WireLen", "wire_len"), ("GsoSegs", "gso_segs"), ("GsoSize", "gso_size"),
        ("TstampType", "tstamp_type"), ("Hwtstamp", "hwtstamp"),
    ];
}
