// XDP forwarder (issue #6): frames per second through forwarder_physical (push the tag,
// redirect to the router) and forwarder_router (pop the tag, redirect to the physical interface),
// each as a ratio to XDP_PASS measured in the same run on the same frame and interface.
// BPF_PROG_TEST_RUN in live frames mode (BPF_F_TEST_XDP_LIVE_FRAMES): the kernel carries every
// verdict out, so a redirect really transmits into a veth and XDP_PASS really builds an skb and
// hands it to the stack; the duration is the kernel's own clock. veth delivers redirected frames
// in the same softirq, so the forwarder's figure includes the far end's receive (an XDP_PASS
// program there, an skb, the stack dropping it), as XDP_PASS's includes the local stack.
// (Plain test runs are no measure here: they do not reset the frame between repetitions, and
// programs that move the frame's head see it shrink or grow run after run.)
// Needs root (a network namespace of its own, removed at the end) and out/bpf from `make bpf`.
using System.Diagnostics;
using System.Text.Json;
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.Netlink;

namespace Microseg.Bench;

public static class ForwarderBench
{
    private const int LiveRepeat = 1_000_000, Rounds = 5;

    public static Task Run(Report report)
    {
        var objectPath = Path.Combine(RepoRoot(), "out", "bpf", ForwarderAbi.ObjectFile);
        if (!File.Exists(objectPath)) throw new InvalidOperationException($"{objectPath} is missing: run 'make bpf'");
        var ns = "msf-bench-" + Guid.NewGuid().ToString("N")[..6];
        Ip("netns", "add", ns);
        var owned = new List<IDisposable>();
        try
        {
            foreach (var (a, b) in new[] { ("rt", "rtp"), ("p1", "p1p") })
            {
                Ip("-n", ns, "link", "add", a, "type", "veth", "peer", "name", b);
                Ip("-n", ns, "link", "set", a, "up");
                Ip("-n", ns, "link", "set", b, "up");
            }
            int rt = IfIndex(ns, "rt"), p1 = IfIndex(ns, "p1"), rtp = IfIndex(ns, "rtp"), p1p = IfIndex(ns, "p1p");
            var obj = Own(owned, BpfObject.OpenMemory(File.ReadAllBytes(objectPath), "forwarder"));
            obj.Load();
            var physical = Own(owned, obj.Program(ForwarderAbi.PhysicalProgram));
            var router = Own(owned, obj.Program(ForwarderAbi.RouterProgram));
            var pass = Own(owned, obj.Program(ForwarderAbi.PassProgram));
            var ports = Own(owned, new BpfHashMap<uint, ForwarderPort>(obj.Map(ForwarderAbi.PortsMap)));
            var routers = Own(owned, new BpfDevMap(obj.Map(ForwarderAbi.RoutersMap)));
            var vlans = Own(owned, new BpfDevMap(obj.Map(ForwarderAbi.VlansMap)));
            NetworkNamespace.Run(ns, () =>
            {
                routers.Set((uint)rt, rt);
                ports.Update((uint)p1, new ForwarderPort((uint)rt, (ushort)p1));
                vlans.Set((uint)p1, p1);
                // The far ends take redirected frames only with an XDP program of their own.
                owned.Add(XdpLink.Create(pass, rtp, XdpMode.Native));
                owned.Add(XdpLink.Create(pass, p1p, XdpMode.Native));
            });

            report.Line($"Kernel {BpfFeatures.KernelRelease}, {Environment.ProcessorCount} cores. Live frames (BPF_PROG_TEST_RUN, BPF_F_TEST_XDP_LIVE_FRAMES), {LiveRepeat:N0} frames a round,");
            report.Line($"median of {Rounds} rounds of the kernel's ns/frame. Forwarder: the frame really goes out through the devmap into a veth; XDP_PASS: the frame really goes up the stack.");
            report.Line();
            report.Line("| direction | frame | forwarder ns/frame | forwarder Mpps | XDP_PASS ns/frame | XDP_PASS Mpps | ratio (forwarder / XDP_PASS frames per second) | delivered |");
            report.Line("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var size in new[] { 64, 1514 })
            {
                var untagged = Frame(size, p1);
                var tagged = Tagged(untagged, p1);
                foreach (var (direction, prog, frame, ingress, far) in new[]
                {
                    ("physical → router (push tag)", physical, untagged, p1, "rtp"),
                    ("router → physical (pop tag)", router, tagged, rt, "p1p"),
                })
                {
                    var check = NetworkNamespace.Run(ns, () => XdpTestRun.Run(prog, frame, ingress));
                    if (check.ReturnValue != 4) throw new InvalidOperationException($"{direction}: the program returned {check.ReturnValue}, not XDP_REDIRECT");
                    NetworkNamespace.Run(ns, () => XdpTestRun.RunLive(prog, frame, ingress, LiveRepeat)); // warm-up
                    long before = RxPackets(ns, far);
                    double forwarded = Median(() => NetworkNamespace.Run(ns, () => XdpTestRun.RunLive(prog, frame, ingress, LiveRepeat)), warmUp: false);
                    double delivered = (RxPackets(ns, far) - before) / (double)(Rounds * LiveRepeat);
                    double passed = Median(() => NetworkNamespace.Run(ns, () => XdpTestRun.RunLive(pass, frame, ingress, LiveRepeat)));
                    report.Line($"| {direction} | {size} B | {forwarded:F0} | {1000 / forwarded:F2} | {passed:F0} | {1000 / passed:F2} | {passed / forwarded:F2} | {100 * delivered:F1}% |");
                }
            }
            report.Line();
            report.Line("delivered = frames the far veth counted received / frames sent through the forwarder: every redirect really transmitted.");
            report.Line("Rerun: `make bench BENCH_ARGS=forwarder` (root).");
        }
        finally
        {
            for (int i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
            Ip("netns", "del", ns);
        }
        return Task.CompletedTask;
    }

    private static double Median(Func<uint> run, bool warmUp = true)
    {
        if (warmUp) run();
        var values = Enumerable.Range(0, Rounds).Select(_ => (double)run()).Order().ToList();
        return values[Rounds / 2];
    }

    /// <summary>Ethernet + IPv4 + UDP, <paramref name="size"/> bytes without FCS (64 B is the
    /// minimum frame with FCS, 1514 B a full-MTU frame without).</summary>
    /// <remarks>Live frames reuse their pages and restore the data pointers, not the bytes, so a
    /// program that edits the frame in place meets its own edit on the next run. Popping a tag
    /// copies the 12 MAC bytes 4 bytes up; MACs that repeat the tag (81 00 VV VV, three times)
    /// leave the same 16 bytes at the start of the frame, so every run pops the same valid tag.
    /// (The destination is a multicast address; the far end's stack drops the frame either way.)</remarks>
    private static byte[] Frame(int size, int vlan)
    {
        var frame = new byte[size];
        for (int i = 0; i < 12; i += 4)
            new byte[] { 0x81, 0x00, (byte)(vlan >> 8), (byte)vlan }.CopyTo(frame, i);
        frame[12] = 0x08;
        frame[13] = 0x00;
        frame[14] = 0x45;
        frame[16] = (byte)((size - 14) >> 8);
        frame[17] = (byte)(size - 14);
        frame[22] = 64;
        frame[23] = 17;
        new byte[] { 10, 0, 0, 1, 10, 0, 0, 2 }.CopyTo(frame, 26);
        return frame;
    }

    private static byte[] Tagged(byte[] frame, int vlan) =>
        [.. frame[..12], 0x81, 0x00, (byte)(vlan >> 8), (byte)vlan, .. frame[12..]];

    private static long RxPackets(string ns, string device)
    {
        using var json = JsonDocument.Parse(Ip("-n", ns, "-j", "-s", "link", "show", "dev", device));
        return json.RootElement[0].GetProperty("stats64").GetProperty("rx").GetProperty("packets").GetInt64();
    }

    private static int IfIndex(string ns, string device)
    {
        using var json = JsonDocument.Parse(Ip("-n", ns, "-j", "link", "show", "dev", device));
        return json.RootElement[0].GetProperty("ifindex").GetInt32();
    }

    private static string Ip(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var ip = Process.Start(start)!;
        var stdout = ip.StandardOutput.ReadToEndAsync();
        var stderr = ip.StandardError.ReadToEnd();
        ip.WaitForExit();
        if (ip.ExitCode != 0) throw new InvalidOperationException($"ip {string.Join(' ', args)}: {stderr.Trim()}");
        return stdout.Result;
    }

    private static T Own<T>(List<IDisposable> owned, T disposable) where T : IDisposable
    {
        owned.Add(disposable);
        return disposable;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Makefile")) && Directory.Exists(Path.Combine(dir.FullName, "bpf")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root");
    }
}
