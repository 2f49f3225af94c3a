// A loaded BPF program: an fd on the kernel object, from an object file or a pin.
namespace Microseg.Bpf;

public sealed class BpfProgram : IDisposable
{
    internal BpfProgram(SafeFdHandle handle, string name)
    {
        Handle = handle;
        Name = name;
    }

    public SafeFdHandle Handle { get; }

    /// <summary>The name in the object file, or the kernel's (at most 15 bytes) for a pinned one.</summary>
    public string Name { get; }

    /// <summary>Opens the program pinned at <paramref name="path"/> (bpf_obj_get).</summary>
    public static BpfProgram OpenPinned(string path)
    {
        var handle = ObjectInfo.OpenPinned(path, "prog");
        try
        {
            var info = ObjectInfo.Get<Interop.Libbpf.bpf_prog_info>(handle, $"pinned program {path}");
            return new BpfProgram(handle, InfoName(info));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Pins the program at <paramref name="path"/> on bpffs; undo with <see cref="Bpffs.Unpin"/>.</summary>
    public void Pin(string path) => ObjectInfo.Pin(Handle, path, $"program {Name}");

    public unsafe BpfProgramInfo Info()
    {
        var info = ObjectInfo.Get<Interop.Libbpf.bpf_prog_info>(Handle, $"program {Name}");
        return new BpfProgramInfo(info.id, info.type, ObjectInfo.Tag(info.tag), InfoName(info));
    }

    private uint id;

    /// <summary>The program's id, read once (a program keeps its id for its life).</summary>
    public uint Id => id != 0 ? id : id = Info().Id;

    /// <summary>Closes this fd; the program stays in the kernel while pinned or attached.</summary>
    public void Dispose() => Handle.Dispose();

    public override string ToString() => $"program {Name}";

    private static unsafe string InfoName(Interop.Libbpf.bpf_prog_info info) =>
        ObjectInfo.CString(new ReadOnlySpan<byte>(info.name, Interop.Libbpf.BPF_OBJ_NAME_LEN));
}

/// <param name="Id">The kernel's program id (bpftool prog show id N).</param>
/// <param name="Type">enum bpf_prog_type (3 = sched_cls, what tc and tcx run).</param>
/// <param name="Tag">The kernel's SHA-1 based tag of the instructions, 16 hex digits.</param>
/// <param name="Name">The kernel's name, at most 15 bytes.</param>
public sealed record BpfProgramInfo(uint Id, uint Type, string Tag, string Name);
