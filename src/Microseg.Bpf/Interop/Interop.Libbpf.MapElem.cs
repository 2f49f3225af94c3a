// libbpf's map element wrappers (bpf.h): update, lookup, delete, iterate.
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
    }
}
