// The pinned layout of the policy subsystem under <bpffs>/policy/:
//   prog/ingress  prog/egress  nic_group  verdicts  links/{ifindex}-{ingress|egress}
// and, only while a schema migration runs, next/ with the new maps.
using System.Globalization;
using Microseg.Bpf;

namespace Microseg.Agent.Policy;

public sealed class PolicyPins(string root)
{
    public string Root { get; } = root;
    public string ProgramDirectory => Path.Combine(Root, "prog");
    public string IngressProgram => Path.Combine(ProgramDirectory, "ingress");
    public string EgressProgram => Path.Combine(ProgramDirectory, "egress");
    public string NicGroup => Path.Combine(Root, "nic_group");
    public string Verdicts => Path.Combine(Root, "verdicts");
    public string LinkDirectory => Path.Combine(Root, "links");
    public string NextDirectory => Path.Combine(Root, "next");
    public string NextNicGroup => Path.Combine(NextDirectory, "nic_group");
    public string NextVerdicts => Path.Combine(NextDirectory, "verdicts");

    public string Program(TcxDirection direction) => direction == TcxDirection.Ingress ? IngressProgram : EgressProgram;

    public string Link(int ifIndex, TcxDirection direction) => Path.Combine(LinkDirectory, $"{ifIndex.ToString(CultureInfo.InvariantCulture)}-{Word(direction)}");

    public static string Word(TcxDirection direction) => direction == TcxDirection.Ingress ? "ingress" : "egress";

    public bool AllPresent => File.Exists(IngressProgram) && File.Exists(EgressProgram) && File.Exists(NicGroup) && File.Exists(Verdicts);

    /// <summary>The link pins present: (path, ifindex, direction). Names that are not ours are skipped.</summary>
    public IEnumerable<(string Path, int IfIndex, TcxDirection Direction)> Links()
    {
        if (!Directory.Exists(LinkDirectory)) yield break;
        foreach (var path in Directory.EnumerateFiles(LinkDirectory).Order(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(path);
            var dash = name.IndexOf('-');
            if (dash <= 0 || !int.TryParse(name.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var ifIndex)) continue;
            var word = name[(dash + 1)..];
            if (word == "ingress") yield return (path, ifIndex, TcxDirection.Ingress);
            else if (word == "egress") yield return (path, ifIndex, TcxDirection.Egress);
        }
    }
}
