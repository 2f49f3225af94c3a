// libbpf's map element wrappers (bpf.h): update, lookup, delete, iterate, batch lookup.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        internal const ulong BPF_ANY = 0;

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_map_lookup_elem(int fd, void* key, void* value);

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_map_delete_elem(int fd, void* key);

        /// <summary>key NULL = first key; -ENOENT after the last.</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_map_get_next_key(int fd, void* key, void* next_key);

        /// <summary>BPF_MAP_LOOKUP_BATCH: up to *count entries into keys/values from where
        /// in_batch left off (NULL: the start); out_batch receives where to go on; *count is set to
        /// the number read; -ENOENT once the end is reached (entries may still have been read).
        /// opts may be NULL.</summary>
        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_map_lookup_batch(int fd, void* in_batch, void* out_batch, void* keys, void* values, uint* count, void* opts);
    }
}
