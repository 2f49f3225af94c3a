// libbpf's bpf(2) wrappers that work on any BPF object fd: pin, get pinned, get info.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        internal const int BPF_OBJ_NAME_LEN = 16;
        internal const int BPF_TAG_SIZE = 8;

        /// <summary>The leading fields of struct bpf_prog_info; the kernel fills min(len, its size).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct bpf_prog_info
        {
            public uint type;
            public uint id;
            public fixed byte tag[BPF_TAG_SIZE];
            public uint jited_prog_len;
            public uint xlated_prog_len;
            public ulong jited_prog_insns; // user pointers: left 0 so the kernel copies nothing
            public ulong xlated_prog_insns;
            public ulong load_time;
            public uint created_by_uid;
            public uint nr_map_ids;
            public ulong map_ids;
            public fixed byte name[BPF_OBJ_NAME_LEN];
        }

        /// <summary>The leading fields of struct bpf_map_info.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct bpf_map_info
        {
            public uint type;
            public uint id;
            public uint key_size;
            public uint value_size;
            public uint max_entries;
            public uint map_flags;
            public fixed byte name[BPF_OBJ_NAME_LEN];
        }

        [LibraryImport(Libraries.Libbpf, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int bpf_obj_pin(int fd, string pathname);

        [LibraryImport(Libraries.Libbpf, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int bpf_obj_get(string pathname);

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int bpf_obj_get_info_by_fd(int bpf_fd, void* info, uint* info_len);
    }
}
