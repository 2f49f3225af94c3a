// Loads out/bpf/policy.bpf.o (built by `make bpf`) with its maps pinned in a test's bpffs, the
// way the agent does it.
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

internal static class PolicyObject
{
    public static string Path => RepoPaths.BpfObject(PolicyAbi.ObjectFile);

    public static BpfObject Load(TempBpffs bpffs, string directory = "policy", uint? flowsMaxEntries = null)
    {
        Assert.True(File.Exists(Path), $"{Path} is missing: run `make bpf` first");
        string maps = bpffs.File(directory);
        Bpffs.CreateDirectory(maps);
        var obj = BpfObject.OpenMemory(File.ReadAllBytes(Path), "policy");
        try
        {
            obj.SetMapPinPath(PolicyAbi.NicGroupMap, System.IO.Path.Combine(maps, PolicyAbi.NicGroupMap));
            obj.SetMapPinPath(PolicyAbi.VerdictsMap, System.IO.Path.Combine(maps, PolicyAbi.VerdictsMap));
            if (flowsMaxEntries is uint size) obj.SetMapMaxEntries(PolicyAbi.FlowsMap, size);
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

    public static BpfHashMap<ServiceKey, ServiceValue> Services(BpfObject obj) => new(obj.Map(PolicyAbi.ServicesMap));

    public static BpfHashMap<FlowKey, FlowValue> Flows(BpfObject obj) => new(obj.Map(PolicyAbi.FlowsMap));

    public static BpfArrayMap<ulong> FlowEpoch(BpfObject obj) => new(obj.Map(PolicyAbi.FlowEpochMap));

    /// <summary>The verdict word that holds source mark src for destination group dst.</summary>
    public static VerdictKey WordOf(ushort src, ushort dst) => new(dst, (ushort)(src >> PolicyAbi.VerdictWordShift));

    /// <summary>Source mark src's bit in its word.</summary>
    public static ulong BitOf(ushort src) => 1UL << (src & PolicyAbi.VerdictWordMask);

    /// <summary>Sets src's bit in dst's verdicts (creating the word), leaving the other 63.</summary>
    public static void Allow(BpfHashMap<VerdictKey, VerdictValue> verdicts, ushort src, ushort dst)
    {
        var key = WordOf(src, dst);
        ulong allow = verdicts.TryLookup(key, out var word) ? word.Allow : 0;
        verdicts.Update(key, new VerdictValue(allow | BitOf(src)));
    }

    /// <summary>Clears src's bit; removes the word when no bit is left (an absent word denies).</summary>
    public static void Deny(BpfHashMap<VerdictKey, VerdictValue> verdicts, ushort src, ushort dst)
    {
        var key = WordOf(src, dst);
        if (!verdicts.TryLookup(key, out var word)) return;
        ulong allow = word.Allow & ~BitOf(src);
        if (allow == 0) verdicts.Delete(key);
        else verdicts.Update(key, new VerdictValue(allow, word.Service));
    }
}

/// <summary>tcx return codes (include/uapi/linux/bpf.h, enum tcx_action_base).</summary>
internal static class Tcx
{
    public const int Next = -1;
    public const int Pass = 0;
    public const int Drop = 2;
}
