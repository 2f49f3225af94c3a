// The verdict map at scale on a real lab host: one parent group with 20,000 children allowed
// into 60 local destination groups (1.2 M allowed pairs, a few thousand 64-bit words), then the
// same with every one of the 65,535 marks in use. The 60 destination NICs are all enforced;
// real UDP goes from guests in chosen child and non-child groups to a sample of 6 of them.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microseg.Lab;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

public class VerdictScaleTests
{
    private const int Destinations = 60;
    private const int Children = 20_000;
    private const ushort ParentMark = 1;
    private static int DstMark(int k) => 50_000 + 7 * k;  // 50,000..50,413: several per word, words crossed
    private static int ChildMark(int i) => 2 + 2 * i;     // the even marks 2..40,000: half of every word they touch
    private static long ReceiverVmid(int k) => 1000 + k;
    private static readonly int[] SampleReceivers = [0, 1, 9, 10, 37, 59];

    // Senders: (name, group, allowed into the destinations). Marks at word edges (63|64, 127|128).
    private static readonly (string Name, string? Group, bool Allowed)[] Senders =
    [
        ("sa", "c2", true), ("sb", "c62", true), ("sc", "c64", true), ("sd", "c128", true), ("se", "c40000", true),
        ("sf", "o3", false), ("sg", "o63", false), ("sh", "o65", false), ("si", "d0", false), ("sj", null, false),
    ];

    /// <param name="allMarks">Fill every other mark with a group outside the parent, so all
    /// 65,535 marks are in use; otherwise only 1,000 outsiders (odd marks 3..2,001).</param>
    private static string Config(bool allMarks)
    {
        var text = new StringBuilder();
        void Group(string name, int mark, string? parent = null) =>
            text.Append(CultureInfo.InvariantCulture, $"group: {name}\n\tmark {mark}\n").Append(parent is null ? "\n" : $"\tparent {parent}\n\n");
        Group("kids", ParentMark);
        var used = new HashSet<int> { ParentMark };
        for (int k = 0; k < Destinations; k++) { Group($"d{k}", DstMark(k)); used.Add(DstMark(k)); }
        for (int i = 0; i < Children; i++) { Group($"c{ChildMark(i)}", ChildMark(i), "kids"); used.Add(ChildMark(i)); }
        foreach (var m in allMarks ? Enumerable.Range(1, 65_535).Where(m => !used.Contains(m)) : Enumerable.Range(0, 1000).Select(j => 3 + 2 * j))
            Group($"o{m}", m);
        for (int k = 0; k < Destinations; k++)
            text.Append(CultureInfo.InvariantCulture, $"rule: p{ParentMark}-{DstMark(k)}\n\tsrc kids\n\tdst d{k}\n\taction allow\n\n");
        void Assign(long vmid, string group) => text.Append(CultureInfo.InvariantCulture, $"assignment: vm{vmid}i0\n\tvmid {vmid}\n\tiface 0\n\tgroup {group}\n\n");
        for (int k = 0; k < Destinations; k++) Assign(ReceiverVmid(k), $"d{k}");
        for (int s = 0; s < Senders.Length; s++)
            if (Senders[s].Group is { } g) Assign(2000 + s, g);
        return text.ToString();
    }

    [KernelFact]
    public void Twenty_thousand_children_into_60_destination_groups_apply_and_real_packets_follow() => Run(allMarks: false);

    [KernelFact]
    public void All_65535_marks_in_use_apply_and_real_packets_follow() => Run(allMarks: true);

    private static void Run(bool allMarks)
    {
        var receivers = SampleReceivers.Select(k => ($"r{k}", ReceiverVmid(k), 0L));
        var senders = Senders.Select((s, i) => (s.Name, 2000L + i, 0L));
        using var lab = new LabGuard(Config(allMarks), [.. receivers, .. senders], up: false);
        lab.Lab.Build(TextWriter.Null);
        // The other 54 destination NICs: host-side veths whose peers stay in the host namespace
        // (no guest behind them; they are enforced all the same).
        var hostNs = lab.Lab.Namespace(lab.Host.Name);
        for (int k = 0; k < Destinations; k++)
        {
            if (SampleReceivers.Contains(k)) continue;
            var nic = $"veth{ReceiverVmid(k)}i0";
            Shell.Ip("-n", hostNs, "link", "add", nic, "type", "veth", "peer", "name", $"peer{k}");
            Shell.Ip("-n", hostNs, "link", "set", nic, "up");
        }

        var apply = lab.MicrosegResult("apply");
        Assert.True(apply.ExitCode == 0, $"apply: exit {apply.ExitCode}: {apply.Stderr}");
        // Child marks are the even ones 2..40,000: 626 words (0..625), each with its bits; the
        // 60 destinations are the same words each.
        Assert.Contains($"enforced {Destinations + Senders.Count(s => s.Group is not null)} NICs", apply.Stdout);
        Assert.Contains($"maps: verdicts +{Destinations * 626} -0, nic_group +{Destinations + Senders.Count(s => s.Group is not null)} -0", apply.Stdout);

        using (var status = JsonDocument.Parse(lab.Microseg("status", "--json")))
        {
            var policy = status.RootElement.GetProperty("policy");
            var nics = policy.GetProperty("nics").EnumerateArray()
                .Where(n => n.GetProperty("ingress").GetBoolean() && n.GetProperty("egress").GetBoolean())
                .ToDictionary(n => n.GetProperty("interface").GetString()!, n => n.GetProperty("mark").GetInt32());
            for (int k = 0; k < Destinations; k++)
                Assert.Equal(DstMark(k), nics[$"veth{ReceiverVmid(k)}i0"]);
            // The fill against the bound: the destinations are the 60 and the senders' own groups.
            var fill = policy.GetProperty("verdict_map");
            Assert.Equal(Destinations * 626, fill.GetProperty("words").GetInt32());
            Assert.Equal(1024 * 1024, fill.GetProperty("max_words").GetInt32());
            Assert.Equal(Destinations + Senders.Select(s => s.Group).Distinct().Count(g => g is not null && !g.StartsWith('d')), fill.GetProperty("destinations").GetInt32());
            Assert.Equal(1024, fill.GetProperty("max_destinations").GetInt32());
            Assert.True(fill.GetProperty("memlock_bytes").GetInt64() > 0);
            var warnings = status.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToList();
            Assert.DoesNotContain(warnings, w => w.StartsWith("veth", StringComparison.Ordinal));
        }

        var udp = lab.Udp();
        var failures = new List<string>();
        foreach (var (name, group, allowed) in Senders)
            foreach (var k in SampleReceivers)
                if (udp[(name, $"r{k}")] != allowed)
                    failures.Add($"{name} ({group ?? "untagged"}) -> r{k} (d{k}): expected {(allowed ? "allow" : "deny")}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        // Nothing is allowed between the destination groups themselves.
        Assert.False(udp[("r0", "r1")] || udp[("r59", "r0")]);

        Assert.Contains("verdicts:  37,560 / 1,048,576 words, ", lab.Microseg("status")); // 60 × 626
        // A second apply writes nothing.
        Assert.Contains("maps: verdicts +0 -0, nic_group +0 -0; links +0 ~0 -0", lab.Microseg("apply"));
    }
}
