// The user side of a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) through libbpf's consumer: records
// the kernel submitted are handed, one by one, to a callback on the thread that polls. The
// callback crosses from C as an [UnmanagedCallersOnly] function pointer (no delegate
// marshalling, so it holds under Native AOT); the consumer object finds its managed state
// through a GCHandle passed as libbpf's ctx.
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

/// <summary>Receives one record; the span is valid only during the call (it points into the
/// ring, which the record leaves once the call returns).</summary>
public delegate void RingBufferRecord(ReadOnlySpan<byte> record);

public sealed class BpfRingBuffer : IDisposable
{
    private readonly SafeRingBufferHandle handle;
    private readonly SafeFdHandle mapFd;
    private readonly Sink sink;
    private const int StopRound = -125; // -ECANCELED: ends the round; Poll reports the kept exception
    private readonly object pollGate = new();

    private BpfRingBuffer(SafeRingBufferHandle handle, SafeFdHandle mapFd, Sink sink, string name)
    {
        this.handle = handle;
        this.mapFd = mapFd;
        this.sink = sink;
        Name = name;
    }

    public string Name { get; }

    /// <summary>Starts consuming the ring buffer <paramref name="map"/>; each record goes to
    /// <paramref name="onRecord"/> on the thread that calls <see cref="Poll"/> or
    /// <see cref="Consume"/>. The consumer keeps its own descriptor of the map.</summary>
    public static unsafe BpfRingBuffer Open(BpfMap map, RingBufferRecord onRecord)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(onRecord);
        const uint BPF_MAP_TYPE_RINGBUF = 27;
        var info = map.Info();
        if (info.Type != BPF_MAP_TYPE_RINGBUF)
            throw new BpfException($"open ring buffer {map.Name}: the map is of type {info.Type}, not a ring buffer ({BPF_MAP_TYPE_RINGBUF})");
        SafeFdHandle fd;
        using (var lease = map.Handle.Use()) fd = SafeFdHandle.DuplicateOf(lease.Value, map.ToString());
        var sink = new Sink(onRecord);
        var gc = GCHandle.Alloc(sink);
        try
        {
            using var lease = fd.Use();
            nint rb = NativeResult.CheckLibbpfPointer(
                Interop.Libbpf.ring_buffer__new(lease.Value, &OnSample, (void*)GCHandle.ToIntPtr(gc), null),
                $"open ring buffer {map.Name}");
            return new BpfRingBuffer(new SafeRingBufferHandle(rb, gc), fd, sink, map.Name);
        }
        catch
        {
            gc.Free();
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Opens the ring buffer pinned at <paramref name="path"/>.</summary>
    public static BpfRingBuffer OpenPinned(string path, RingBufferRecord onRecord)
    {
        using var map = BpfMap.OpenPinned(path);
        return Open(map, onRecord);
    }

    /// <summary>Waits up to <paramref name="timeout"/> for records (infinite: until one comes)
    /// and hands each waiting one to the callback; returns how many. A signal that interrupts the
    /// wait counts as none. The callback's exception is rethrown here; the record it failed on is
    /// consumed (libbpf moves past it), the records after it stay in the ring for the next call.</summary>
    public int Poll(TimeSpan timeout)
    {
        int ms = timeout == Timeout.InfiniteTimeSpan ? -1 : (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue);
        return Run(rb => Interop.Libbpf.ring_buffer__poll(rb, ms), "poll");
    }

    /// <summary>Hands every waiting record to the callback without waiting; returns how many.</summary>
    public int Consume() => Run(Interop.Libbpf.ring_buffer__consume, "consume");

    /// <summary>An epoll descriptor that becomes readable when records wait (owned by the consumer:
    /// do not close it).</summary>
    public int EpollFd
    {
        get
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            try { return Interop.Libbpf.ring_buffer__epoll_fd(handle.DangerousGetHandle()); }
            finally { if (added) handle.DangerousRelease(); }
        }
    }

    /// <summary>Frees the consumer; a poll running on another thread finishes first.</summary>
    public void Dispose()
    {
        handle.Dispose();
        mapFd.Dispose();
    }

    public override string ToString() => $"ring buffer {Name}";

    private int Run(Func<nint, int> call, string what)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, this);
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            // libbpf's consumer is not reentrant: one poll at a time.
            lock (pollGate)
            {
                int result = call(handle.DangerousGetHandle());
                var failure = sink.TakeFailure();
                if (failure is not null) throw new BpfException($"{what} {this}: the record callback failed: {failure.Message}", failure);
                if (result == -Errno.EINTR) return 0;
                return NativeResult.CheckLibbpf(result, $"{what} {this}");
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [UnmanagedCallersOnly]
    private static unsafe int OnSample(void* ctx, void* data, nuint size)
    {
        if (GCHandle.FromIntPtr((nint)ctx).Target is not Sink sink) return -Errno.EINVAL;
        try
        {
            sink.OnRecord(new ReadOnlySpan<byte>(data, checked((int)size)));
            return 0;
        }
        catch (Exception e)
        {
            // An exception cannot unwind through libbpf's C frames: keep it for Poll to rethrow,
            // and stop this round (a negative return ends the poll).
            sink.Failure = e;
            return StopRound;
        }
    }

    private sealed class Sink(RingBufferRecord onRecord)
    {
        public RingBufferRecord OnRecord { get; } = onRecord;
        public Exception? Failure { get; set; }

        public Exception? TakeFailure()
        {
            var failure = Failure;
            Failure = null;
            return failure;
        }
    }

    private sealed class SafeRingBufferHandle : SafeHandle
    {
        private GCHandle context;

        public SafeRingBufferHandle(nint rb, GCHandle context) : base(0, ownsHandle: true)
        {
            SetHandle(rb);
            this.context = context;
        }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            Interop.Libbpf.ring_buffer__free(handle);
            if (context.IsAllocated) context.Free();
            return true;
        }
    }
}
