// A BPF ring buffer read for tests that check what the kernel writes to one: each record as
// bytes, to decode with the Abi mirror of its struct. Over Microseg.Bpf's BpfRingBuffer.
using Microseg.Bpf;

namespace Microseg.TestSupport;

public sealed class RingBufferReader : IDisposable
{
    private readonly BpfRingBuffer ring;
    private readonly List<byte[]> records = [];

    /// <param name="map">The ring buffer map (the reader keeps its own descriptor of it).</param>
    public RingBufferReader(BpfMap map) => ring = BpfRingBuffer.Open(map, record => records.Add(record.ToArray()));

    /// <summary>Every record the ring holds now, after waiting up to <paramref name="waitMs"/> for a first one.</summary>
    public List<byte[]> Drain(int waitMs = 200)
    {
        records.Clear();
        ring.Poll(TimeSpan.FromMilliseconds(waitMs));
        ring.Consume();
        return [.. records];
    }

    public void Dispose() => ring.Dispose();
}
