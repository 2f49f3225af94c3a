// The mirrors that are newer than Debian's UAPI header (struct bpf_link_info with tcx, the tcx
// attach and link types) against the running kernel's own BTF, dumped as C by bpftool.
using System.Diagnostics;
using System.Text.RegularExpressions;
using Microseg.TestSupport;
using Libbpf = Interop.Libbpf;

namespace Microseg.Bpf.Tests.Kernel;

public sealed partial class KernelBtfLayoutTests
{
    [KernelFact]
    public void Link_info_and_tcx_constants_match_the_running_kernel()
    {
        using var dir = new TempDirectory("microseg-btf-");
        DumpKernelBtf(dir.File("vmlinux.h"));

        var layout = new CLayout("\"vmlinux.h\"")
            .Size<Libbpf.bpf_link_info>("struct bpf_link_info")
            .Offset<Libbpf.bpf_link_info>("type", "struct bpf_link_info", "type")
            .Offset<Libbpf.bpf_link_info>("id", "struct bpf_link_info", "id")
            .Offset<Libbpf.bpf_link_info>("prog_id", "struct bpf_link_info", "prog_id")
            .Offset<Libbpf.bpf_link_info>("tcx_ifindex", "struct bpf_link_info", "tcx.ifindex")
            .Offset<Libbpf.bpf_link_info>("tcx_attach_type", "struct bpf_link_info", "tcx.attach_type")
            .Size<SkBuff>("struct __sk_buff")
            .Constant("BPF_TCX_INGRESS", (long)TcxDirection.Ingress)
            .Constant("BPF_TCX_EGRESS", (long)TcxDirection.Egress)
            .Constant("TCX_NEXT", Tcx.Next)
            .Constant("TCX_PASS", Tcx.Pass)
            .Constant("TCX_DROP", Tcx.Drop);
        foreach (var type in Enum.GetValues<BpfLinkType>())
            layout.Constant("BPF_LINK_TYPE_" + UpperSnake(type.ToString()), (long)type);
        layout.Compile("-target", "bpf", "-I" + dir.Path);
    }

    private static void DumpKernelBtf(string header)
    {
        var start = new ProcessStartInfo("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var bpftool = Process.Start(start)!;
        var stderr = bpftool.StandardError.ReadToEndAsync();
        using (var file = File.Create(header)) bpftool.StandardOutput.BaseStream.CopyTo(file);
        bpftool.WaitForExit();
        Assert.True(bpftool.ExitCode == 0, $"bpftool btf dump: exit {bpftool.ExitCode}: {stderr.Result}");
    }

    private static string UpperSnake(string pascal) => WordStart().Replace(pascal, "_$1").ToUpperInvariant();

    [GeneratedRegex("(?<=[a-z])([A-Z])")]
    private static partial Regex WordStart();
}
