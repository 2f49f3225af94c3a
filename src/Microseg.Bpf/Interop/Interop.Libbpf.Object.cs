// libbpf's object API (libbpf.h): open an ELF, set pin paths, load, find programs and maps.
using System.Runtime.InteropServices;

internal static partial class Interop
{
    internal static partial class Libbpf
    {
        /// <summary>struct bpf_object_open_opts (libbpf 1.1), <c>sz</c> = sizeof.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal unsafe struct bpf_object_open_opts
        {
            public nuint sz;
            public byte* object_name;
            public byte relaxed_maps; // C bool
            public byte* pin_root_path;
            public uint removed_attach_prog_fd; // __u32 :32
            public byte* kconfig;
            public byte* btf_custom_path;
            public byte* kernel_log_buf;
            public nuint kernel_log_size;
            public uint kernel_log_level;
            // size_t :0 pads the struct to a multiple of 8
        }

        /// <summary>NULL with errno on failure.</summary>
        [LibraryImport(Libraries.Libbpf, SetLastError = true)]
        internal static unsafe partial nint bpf_object__open_mem(void* obj_buf, nuint obj_buf_sz, bpf_object_open_opts* opts);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_object__load(nint obj);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial void bpf_object__close(nint obj);

        /// <summary>NULL with errno (ENOENT) when there is no such program.</summary>
        [LibraryImport(Libraries.Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial nint bpf_object__find_program_by_name(nint obj, string name);

        /// <summary>NULL with errno (ENOENT) when there is no such map.</summary>
        [LibraryImport(Libraries.Libbpf, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial nint bpf_object__find_map_by_name(nint obj, string name);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_program__fd(nint prog);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__fd(nint map);

        [LibraryImport(Libraries.Libbpf, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int bpf_map__set_pin_path(nint map, string? path);

        [LibraryImport(Libraries.Libbpf)]
        internal static partial int bpf_map__set_max_entries(nint map, uint maxEntries);

        [LibraryImport(Libraries.Libbpf)]
        internal static unsafe partial int libbpf_strerror(int err, byte* buf, nuint size);
    }
}
