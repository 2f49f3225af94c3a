// A BPF ring buffer read with libbpf's ring_buffer API, for tests that check what the kernel
// writes to one: each record as bytes, to decode with the Abi mirror of its struct.
using System.Runtime.InteropServices;

namespace Microseg.TestSupport;

public sealed class RingBufferReader : IDisposable
{
    private delegate int SampleCallback(IntPtr ctx, IntPtr data, UIntPtr size);

    [DllImport("libbpf.so.1")]
    private static extern IntPtr ring_buffer__new(int mapFd, SampleCallback sample, IntPtr ctx, IntPtr opts);

    [DllImport("libbpf.so.1")]
    private static extern int ring_buffer__poll(IntPtr rb, int timeoutMs);

    [DllImport("libbpf.so.1")]
    private static extern int ring_buffer__consume(IntPtr rb);

    [DllImport("libbpf.so.1")]
    private static extern void ring_buffer__free(IntPtr rb);

    private readonly SampleCallback callback; // kept alive while libbpf holds it
    private readonly IntPtr ring;
    private readonly List<byte[]> records = [];

    /// <param name="mapFd">An fd of the ring buffer map, open for as long as the reader is.</param>
    public RingBufferReader(int mapFd)
    {
        callback = (_, data, size) =>
        {
            var bytes = new byte[(int)size];
            Marshal.Copy(data, bytes, 0, bytes.Length);
            records.Add(bytes);
            return 0;
        };
        ring = ring_buffer__new(mapFd, callback, IntPtr.Zero, IntPtr.Zero);
        if (ring == IntPtr.Zero) throw new InvalidOperationException($"ring_buffer__new on fd {mapFd} failed");
    }

    /// <summary>Every record the ring holds now, after waiting up to <paramref name="waitMs"/> for a first one.</summary>
    public List<byte[]> Drain(int waitMs = 200)
    {
        records.Clear();
        ring_buffer__poll(ring, waitMs);
        ring_buffer__consume(ring);
        return [.. records];
    }

    public void Dispose()
    {
        ring_buffer__free(ring);
        GC.KeepAlive(callback);
    }
}
