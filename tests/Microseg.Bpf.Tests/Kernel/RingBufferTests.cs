// BpfRingBuffer against the kernel: a small program of our own writes records into a ring
// buffer map when BPF_PROG_TEST_RUN runs it, and the consumer reads them back in order.
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class RingBufferTests : IDisposable
{
    private readonly TempDirectory dir = new("microseg-ringbuf-");
    private readonly BpfObject writer;

    public RingBufferTests()
    {
        // Each run writes one 16-byte record: a magic word, the packet's length and a counter
        // that goes up by one per run (kept in an array map), so order and loss are visible.
        File.WriteAllText(dir.File("rb.bpf.c"), """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            struct {
                __uint(type, BPF_MAP_TYPE_RINGBUF);
                __uint(max_entries, 4096);
            } ring SEC(".maps");
            struct {
                __uint(type, BPF_MAP_TYPE_ARRAY);
                __uint(max_entries, 1);
                __type(key, __u32);
                __type(value, __u64);
            } seq SEC(".maps");
            struct record { __u32 magic; __u32 len; __u64 seq; };
            SEC("tc")
            int write_record(struct __sk_buff *skb)
            {
                __u32 zero = 0;
                __u64 *n = bpf_map_lookup_elem(&seq, &zero);
                if (!n) return 2;
                struct record r = { .magic = 0x6d6f6e31, .len = skb->len, .seq = __sync_fetch_and_add(n, 1) };
                return bpf_ringbuf_output(&ring, &r, sizeof(r), 0) == 0 ? 0 : 2;
            }
            char LICENSE[] SEC("license") = "GPL";
            """);
        Clang.CompileBpf(dir.File("rb.bpf.c"), dir.File("rb.bpf.o"));
        writer = BpfObject.OpenMemory(File.ReadAllBytes(dir.File("rb.bpf.o")), "rb");
        writer.Load();
    }

    public void Dispose()
    {
        writer.Dispose();
        dir.Dispose();
    }

    [KernelFact]
    public void Records_written_by_a_program_come_out_in_order_with_their_contents()
    {
        using var program = writer.Program("write_record");
        using var map = writer.Map("ring");
        var seen = new List<(uint Magic, uint Len, ulong Seq)>();
        using var ring = BpfRingBuffer.Open(map, record =>
        {
            Assert.Equal(16, record.Length);
            seen.Add((BitConverter.ToUInt32(record[..4]), BitConverter.ToUInt32(record[4..8]), BitConverter.ToUInt64(record[8..16])));
        });

        Assert.Equal(0, ring.Consume());
        for (int i = 0; i < 5; i++)
            Assert.Equal(0, ProgramTestRun.Run(program, new byte[60 + i]).ReturnValue);
        int consumed = ring.Poll(TimeSpan.FromSeconds(5));

        Assert.Equal(5, consumed);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (0x6d6f6e31u, (uint)(60 + i), (ulong)i)), seen);
        Assert.Equal(0, ring.Consume());
    }

    [KernelFact]
    public void A_full_ring_refuses_records_until_the_consumer_reads_them()
    {
        using var program = writer.Program("write_record");
        using var map = writer.Map("ring");
        int count = 0;
        using var ring = BpfRingBuffer.Open(map, _ => count++);

        // 4096 bytes hold 170 records of 16 bytes plus the kernel's 8-byte header each.
        int accepted = 0;
        for (int i = 0; i < 300; i++)
            if (ProgramTestRun.Run(program, new byte[60]).ReturnValue == 0) accepted++;

        Assert.Equal(4096 / 24, accepted);
        Assert.Equal(accepted, ring.Consume());
        Assert.Equal(accepted, count);
        Assert.Equal(0, ProgramTestRun.Run(program, new byte[60]).ReturnValue);
        Assert.Equal(1, ring.Consume());
    }

    [KernelFact]
    public void A_poll_with_nothing_to_read_waits_for_its_timeout_and_reads_none()
    {
        using var map = writer.Map("ring");
        using var ring = BpfRingBuffer.Open(map, _ => Assert.Fail("no record was written"));

        Assert.Equal(0, ring.Poll(TimeSpan.FromMilliseconds(50)));
        Assert.True(ring.EpollFd >= 0);
    }

    [KernelFact]
    public void An_exception_in_the_callback_comes_out_of_poll_and_leaves_the_records_after_it_for_later()
    {
        using var program = writer.Program("write_record");
        using var map = writer.Map("ring");
        var seqs = new List<ulong>();
        bool fail = true;
        using var ring = BpfRingBuffer.Open(map, record =>
        {
            ulong seq = BitConverter.ToUInt64(record[8..16]);
            if (seq == 1 && fail) { fail = false; throw new InvalidOperationException("bad record"); }
            seqs.Add(seq);
        });
        for (int i = 0; i < 3; i++) ProgramTestRun.Run(program, new byte[60]);

        var e = Assert.Throws<BpfException>(() => ring.Consume());

        Assert.Equal("consume ring buffer ring: the record callback failed: bad record", e.Message);
        Assert.Equal([0UL], seqs);
        ring.Consume();
        Assert.Equal([0UL, 2UL], seqs); // the failed record is consumed, the next one was kept
    }

    [KernelFact]
    public void A_map_that_is_no_ring_buffer_is_refused_by_name()
    {
        using var map = writer.Map("seq");

        var e = Assert.Throws<BpfException>(() => BpfRingBuffer.Open(map, _ => { }));

        Assert.Equal("open ring buffer seq: the map is of type 2, not a ring buffer (27)", e.Message);
    }

    [KernelFact]
    public void A_consumer_outlives_the_map_fd_it_was_opened_from_and_disposes_twice()
    {
        using var program = writer.Program("write_record");
        BpfRingBuffer ring;
        int count = 0;
        using (var map = writer.Map("ring")) ring = BpfRingBuffer.Open(map, _ => count++);
        ProgramTestRun.Run(program, new byte[60]);

        Assert.Equal(1, ring.Consume());
        ring.Dispose();
        ring.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ring.Consume());
    }
}
