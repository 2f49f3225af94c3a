// libbpf's BPF ring buffer consumer (libbpf.h, LIBBPF_0.0.9/0.3.0): new, poll, consume, epoll fd, free.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>sample_cb: int (*)(void *ctx, void *data, size_t size); a negative return stops
        /// the current poll/consume and is returned by it. opts may be NULL. NULL with errno on
        /// failure.</summary>
        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static unsafe partial nint ring_buffer__new(int map_fd, delegate* unmanaged<void*, void*, nuint, int> sample_cb, void* ctx, void* opts);

        /// <summary>Waits up to timeout_ms (-1: forever) for data, then consumes what is there;
        /// the number of records consumed, or -errno (-EINTR when a signal came).</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int ring_buffer__poll(nint rb, int timeout_ms);

        /// <summary>Consumes what is there without waiting; records consumed or -errno.</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static partial int ring_buffer__consume(nint rb);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int ring_buffer__epoll_fd(nint rb);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void ring_buffer__free(nint rb);
    }
}
