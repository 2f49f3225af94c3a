// Maps of policy.bpf.o: pin reuse across loads (how a new run finds the running state), the
// typed hash map view and the array view (flow_epoch).
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class MapTests : IDisposable
{
    private readonly TempBpffs bpffs = new();

    public void Dispose() => bpffs.Dispose();

    [KernelFact]
    public void The_flow_epoch_array_reads_and_writes_and_invalidate_always_changes_it()
    {
        using var policy = PolicyObject.Load(bpffs);
        using var epoch = PolicyObject.FlowEpoch(policy);
        Assert.Equal((uint)PolicyAbi.FlowEpochEntries, epoch.MaxEntries);
        Assert.Equal(0UL, epoch[0]);
        epoch[0] = 0xfeed_f00d_1234_5678UL;
        Assert.Equal(0xfeed_f00d_1234_5678UL, epoch[0]);
        var seen = new HashSet<ulong> { epoch[0] };
        for (int i = 0; i < 100; i++)
        {
            FlowEpoch.Invalidate(epoch);
            Assert.True(seen.Add(epoch[0]), "Invalidate wrote a value the epoch held before");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => epoch[1]);
        // A hash map is no array, and the other way round.
        using var verdicts = policy.Map(PolicyAbi.VerdictsMap);
        Assert.Contains("not an array", Assert.Throws<BpfException>(() => new BpfArrayMap<ulong>(verdicts)).Message);
    }

    [KernelFact]
    public void A_second_load_with_the_same_pin_path_reuses_the_first_loads_maps()
    {
        uint firstId;
        using (var first = PolicyObject.Load(bpffs))
        using (var verdicts = PolicyObject.Verdicts(first))
        using (var nics = PolicyObject.NicGroup(first))
        {
            verdicts.Update(new VerdictKey(20, 0), new VerdictValue(1UL << 11));
            nics.Update(7, new NicInfo(20));
            firstId = verdicts.Map.Info().Id;
        }
        Assert.True(File.Exists(bpffs.File("policy", PolicyAbi.VerdictsMap)));

        using var second = PolicyObject.Load(bpffs);
        using var reused = PolicyObject.Verdicts(second);
        using var reusedNics = PolicyObject.NicGroup(second);

        Assert.Equal(firstId, reused.Map.Info().Id);
        Assert.True(reused.TryLookup(new VerdictKey(20, 0), out var verdict));
        Assert.Equal(1UL << 11, verdict.Allow);
        Assert.True(reusedNics.TryLookup(7, out var nic));
        Assert.Equal(20, nic.Group);
    }

    [KernelFact]
    public void A_load_with_another_pin_path_creates_fresh_maps()
    {
        using (var first = PolicyObject.Load(bpffs, "a"))
        using (var verdicts = PolicyObject.Verdicts(first))
            verdicts.Update(new VerdictKey(2, 0), new VerdictValue(1UL << 1));

        using var second = PolicyObject.Load(bpffs, "b");
        using var fresh = PolicyObject.Verdicts(second);

        Assert.Equal(0, fresh.Count());
    }

    [KernelFact]
    public void A_pinned_map_of_another_layout_fails_the_load_with_a_hint()
    {
        using (var first = PolicyObject.Load(bpffs, "a")) { }
        // Put the 65,536-entry nic_group where the next load expects the 1M-entry verdicts.
        Bpffs.CreateDirectory(bpffs.File("b"));
        File.Move(bpffs.File("a", PolicyAbi.NicGroupMap), bpffs.File("b", PolicyAbi.VerdictsMap));

        var e = Assert.Throws<BpfException>(() => PolicyObject.Load(bpffs, "b"));

        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith("load BPF object policy: EINVAL (Invalid argument); a pinned map must match", e.Message);
        Assert.Contains(bpffs.File("b", PolicyAbi.VerdictsMap), e.Message);
    }

    [KernelFact]
    public void Libbpfs_own_messages_can_be_redirected()
    {
        using (var first = PolicyObject.Load(bpffs, "a")) { }
        Bpffs.CreateDirectory(bpffs.File("b"));
        File.Move(bpffs.File("a", PolicyAbi.NicGroupMap), bpffs.File("b", PolicyAbi.VerdictsMap));
        var messages = new System.Collections.Concurrent.ConcurrentQueue<(LibbpfLogLevel, string)>();

        LibbpfLog.Redirect((level, line) => messages.Enqueue((level, line)));
        try
        {
            Assert.Throws<BpfException>(() => PolicyObject.Load(bpffs, "b"));
        }
        finally
        {
            LibbpfLog.Reset();
        }

        Assert.Contains((LibbpfLogLevel.Warning, $"libbpf: couldn't reuse pinned map at '{bpffs.File("b", PolicyAbi.VerdictsMap)}': parameter mismatch"), messages);
    }

    [KernelFact]
    public void Maps_are_created_as_the_header_declares()
    {
        using var policy = PolicyObject.Load(bpffs);
        using var nics = PolicyObject.NicGroup(policy);
        using var verdicts = PolicyObject.Verdicts(policy);

        var nicInfo = nics.Map.Info();
        var verdictInfo = verdicts.Map.Info();

        Assert.Equal((PolicyAbi.NicGroupMap, 4u, 12u, (uint)PolicyAbi.NicGroupMaxEntries),
            (nicInfo.Name, nicInfo.KeySize, nicInfo.ValueSize, nicInfo.MaxEntries));
        Assert.Equal((PolicyAbi.VerdictsMap, 4u, 144u, (uint)PolicyAbi.VerdictsMaxEntries),
            (verdictInfo.Name, verdictInfo.KeySize, verdictInfo.ValueSize, verdictInfo.MaxEntries));
        Assert.Equal(1u, verdictInfo.Type); // BPF_MAP_TYPE_HASH
        using var counters = policy.Map(PolicyAbi.CountersMap);
        var counterInfo = counters.Info();
        Assert.Equal((6u, 4u, 16u, (uint)PolicyAbi.CountersMaxEntries), (counterInfo.Type, counterInfo.KeySize, counterInfo.ValueSize, counterInfo.MaxEntries)); // BPF_MAP_TYPE_PERCPU_ARRAY
        using var events = policy.Map(PolicyAbi.EventsMap);
        Assert.Equal((27u, (uint)PolicyAbi.EventsRingBytes), (events.Info().Type, events.Info().MaxEntries)); // BPF_MAP_TYPE_RINGBUF
    }

    [KernelFact]
    public void Hash_map_view_updates_looks_up_deletes_and_walks()
    {
        using var policy = PolicyObject.Load(bpffs);
        using var verdicts = PolicyObject.Verdicts(policy);

        Assert.False(verdicts.TryLookup(new VerdictKey(2, 1), out _));
        Assert.False(verdicts.Delete(new VerdictKey(2, 1)));
        Assert.Equal(0, verdicts.Count());
        Assert.Empty(verdicts.Keys());

        for (ushort word = 1; word <= 100; word++)
            verdicts.Update(new VerdictKey(7, word), new VerdictValue(word % 2 == 0 ? ~0UL : 1UL << word % 64));
        verdicts.Update(new VerdictKey(7, 3), new VerdictValue(~0UL, 5)); // replace

        Assert.Equal(100, verdicts.Count());
        Assert.Equal(Enumerable.Range(1, 100), verdicts.Keys().Select(k => (int)k.SrcHi).Order());
        var entries = verdicts.Entries().ToDictionary(e => e.Key, e => e.Value);
        Assert.Equal(new VerdictValue(~0UL, 5), entries[new VerdictKey(7, 3)]);
        Assert.Equal(new VerdictValue(1UL << 5), entries[new VerdictKey(7, 5)]);

        foreach (var key in verdicts.Keys())
            if (key.SrcHi > 10)
                Assert.True(verdicts.Delete(key));
        Assert.Equal(10, verdicts.Count());
        Assert.True(verdicts.TryLookup(new VerdictKey(7, 10), out var ten));
        Assert.Equal(~0UL, ten.Allow);
    }

    [KernelFact]
    public void Hash_map_view_reads_a_map_larger_than_one_batch_entry_for_entry()
    {
        using var policy = PolicyObject.Load(bpffs);
        using var verdicts = PolicyObject.Verdicts(policy);
        // 2.5 batches' worth: 10,240 distinct keys, each with a value of its own.
        const int entries = BpfHashMap<VerdictKey, VerdictValue>.BatchEntries * 5 / 2;
        var written = new Dictionary<VerdictKey, VerdictValue>();
        for (int i = 0; i < entries; i++)
        {
            var key = new VerdictKey((ushort)(1 + i / 1024), (ushort)(i % 1024));
            var value = new VerdictValue((ulong)i * 0x9E3779B97F4A7C15UL, (ulong)i);
            verdicts.Update(key, value);
            written.Add(key, value);
        }

        var read = verdicts.Entries();

        Assert.Equal(entries, read.Count);
        Assert.Equal(written, read.ToDictionary(e => e.Key, e => e.Value));
        Assert.Equal(entries, verdicts.Count());
        Assert.Equal(written.Keys.ToHashSet(), verdicts.Keys().ToHashSet());
        Assert.Equal(entries, verdicts.Keys().Count);
        foreach (var key in written.Keys.Where(k => k.SrcHi % 2 == 1)) Assert.True(verdicts.Delete(key));
        Assert.Equal(written.Where(w => w.Key.SrcHi % 2 == 0).ToDictionary(), verdicts.Entries().ToDictionary(e => e.Key, e => e.Value));
    }

    [KernelFact]
    public void Hash_map_view_opens_from_a_pin()
    {
        using var policy = PolicyObject.Load(bpffs);
        using (var verdicts = PolicyObject.Verdicts(policy))
            verdicts.Update(new VerdictKey(5, 4), new VerdictValue(1));

        using var pinned = BpfHashMap<VerdictKey, VerdictValue>.OpenPinned(bpffs.File("policy", PolicyAbi.VerdictsMap));

        Assert.Equal(PolicyAbi.VerdictsMap, pinned.Name);
        Assert.True(pinned.TryLookup(new VerdictKey(5, 4), out _));
    }

    [KernelFact]
    public void Hash_map_view_checks_key_and_value_sizes_once()
    {
        using var policy = PolicyObject.Load(bpffs);

        using var map = policy.Map(PolicyAbi.NicGroupMap);

        var e = Assert.Throws<BpfException>(() => new BpfHashMap<ulong, NicInfo>(map));

        Assert.Equal("open map nic_group as hash map UInt64 (8 bytes) → NicInfo (12 bytes): the kernel's map has 4-byte keys and 12-byte values; the pinned map is from another schema version", e.Message);
    }

    [KernelFact]
    public void Opening_a_missing_pin_says_what_and_where()
    {
        string path = bpffs.File("nothing-here");

        var e = Assert.Throws<BpfException>(() => BpfMap.OpenPinned(path));

        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal($"open pinned map {path}: ENOENT (No such file or directory)", e.Message);
    }
}
