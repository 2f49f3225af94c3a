// Programs of policy.bpf.o: handles outlive the object, pins, info, load failures.
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Bpf.Tests.Kernel;

public sealed class ProgramTests : IDisposable
{
    private readonly TempBpffs bpffs = new();

    public void Dispose() => bpffs.Dispose();

    [KernelFact]
    public void A_pinned_program_reopens_as_the_same_kernel_program()
    {
        string path = bpffs.File("policy_ingress");
        BpfProgramInfo loaded;
        using (var policy = PolicyObject.Load(bpffs))
        using (var ingress = policy.Program(PolicyAbi.IngressProgram))
        {
            ingress.Pin(path);
            loaded = ingress.Info();
        }

        using var pinned = BpfProgram.OpenPinned(path);
        var info = pinned.Info();

        Assert.Equal(loaded, info);
        Assert.Equal(PolicyAbi.IngressProgram, info.Name);
        Assert.Equal(3u, info.Type); // BPF_PROG_TYPE_SCHED_CLS
        Assert.Matches("^[0-9a-f]{16}$", info.Tag);
        Assert.NotEqual(0u, info.Id);
    }

    [KernelFact]
    public void Unpin_removes_the_pin_and_says_when_there_was_none()
    {
        string path = bpffs.File("policy_egress");
        using var policy = PolicyObject.Load(bpffs);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        egress.Pin(path);

        Assert.True(Bpffs.Unpin(path));
        Assert.False(File.Exists(path));
        Assert.False(Bpffs.Unpin(path));
    }

    [KernelFact]
    public void Pinning_twice_at_one_path_is_EEXIST()
    {
        string path = bpffs.File("prog");
        using var policy = PolicyObject.Load(bpffs);
        using var egress = policy.Program(PolicyAbi.EgressProgram);
        egress.Pin(path);

        var e = Assert.Throws<BpfException>(() => egress.Pin(path));

        Assert.Equal($"pin program policy_egress at {path}: EEXIST (File exists)", e.Message);
    }

    [KernelFact]
    public void Program_handles_stay_valid_after_the_object_is_disposed()
    {
        BpfProgram ingress;
        using (var policy = PolicyObject.Load(bpffs))
            ingress = policy.Program(PolicyAbi.IngressProgram);
        using (ingress)
        {
            var run = ProgramTestRun.Run(ingress, Frames.Guest1ToGuest2(), new SkBuff { IfIndex = 1 });
            Assert.Equal(Tcx.Pass, run.ReturnValue);
        }
    }

    [KernelFact]
    public void Asking_for_a_program_the_object_lacks_names_both()
    {
        using var policy = PolicyObject.Load(bpffs);

        var e = Assert.Throws<BpfException>(() => policy.Program("policy_sideways"));

        Assert.Equal("find program policy_sideways in policy: ENOENT (No such file or directory)", e.Message);
    }

    [KernelFact]
    public void An_object_loads_once_and_gives_out_programs_only_when_loaded()
    {
        using var policy = BpfObject.OpenMemory(File.ReadAllBytes(PolicyObject.Path), "policy");

        var early = Assert.Throws<InvalidOperationException>(() => policy.Program(PolicyAbi.IngressProgram));
        policy.Load();
        var twice = Assert.Throws<InvalidOperationException>(policy.Load);

        Assert.Equal("take program policy_ingress from policy: the object is not loaded", early.Message);
        Assert.Equal("load policy: the object was loaded already", twice.Message);
        Assert.True(policy.IsLoaded);
    }

    [KernelFact]
    public void A_verifier_rejection_carries_the_log_and_its_last_line()
    {
        using var dir = new TempDirectory("microseg-bad-bpf-");
        File.WriteAllText(dir.File("bad.bpf.c"), """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            #include "abi.h"
            struct {
                __uint(type, BPF_MAP_TYPE_HASH);
                __uint(max_entries, 1);
                __type(key, __u32);
                __type(value, struct nic_info);
            } m SEC(".maps");
            SEC("tc")
            int unchecked_lookup(struct __sk_buff *skb)
            {
                __u32 key = 0;
                struct nic_info *nic = bpf_map_lookup_elem(&m, &key);
                return nic->group; /* no NULL check */
            }
            char LICENSE[] SEC("license") = "GPL";
            """);
        Clang.CompileBpf(dir.File("bad.bpf.c"), dir.File("bad.bpf.o"));
        using var bad = BpfObject.OpenMemory(File.ReadAllBytes(dir.File("bad.bpf.o")), "bad");

        var e = Assert.Throws<BpfException>(bad.Load);

        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Equal("load BPF object bad: EACCES (Permission denied); verifier: R0 invalid mem access 'map_value_or_null'", e.Message);
        Assert.Contains("R0 invalid mem access", e.VerifierLog);
        Assert.False(bad.IsLoaded);
    }
}
