// Loads out/bpf/policy.bpf.o (built by `make bpf`) with its maps pinned in a test's bpffs, the
// way the agent does it.
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

internal static class PolicyObject
{
    public static string Path => RepoPaths.BpfObject(PolicyAbi.ObjectFile);

    public static BpfObject Load(TempBpffs bpffs, string directory = "policy")
    {
        Assert.True(File.Exists(Path), $"{Path} is missing: run `make bpf` first");
        string maps = bpffs.File(directory);
        Bpffs.CreateDirectory(maps);
        var obj = BpfObject.OpenMemory(File.ReadAllBytes(Path), "policy");
        try
        {
            obj.SetMapPinPath(PolicyAbi.NicGroupMap, System.IO.Path.Combine(maps, PolicyAbi.NicGroupMap));
            obj.SetMapPinPath(PolicyAbi.VerdictsMap, System.IO.Path.Combine(maps, PolicyAbi.VerdictsMap));
            obj.Load();
            return obj;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    public static BpfHashMap<uint, NicInfo> NicGroup(BpfObject obj) => new(obj.Map(PolicyAbi.NicGroupMap));

    public static BpfHashMap<VerdictKey, VerdictValue> Verdicts(BpfObject obj) => new(obj.Map(PolicyAbi.VerdictsMap));
}

/// <summary>tcx return codes (include/uapi/linux/bpf.h, enum tcx_action_base).</summary>
internal static class Tcx
{
    public const int Next = -1;
    public const int Pass = 0;
    public const int Drop = 2;
}
