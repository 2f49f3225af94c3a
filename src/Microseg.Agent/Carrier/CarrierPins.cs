// The pinned layout of the carrier subsystem under <bpffs>/carrier/:
//   prog/ingress  prog/egress  links/{ifindex}-{ingress|egress}
using System.Globalization;
using Microseg.Bpf;

namespace Microseg.Agent.Carrier;

public sealed class CarrierPins(string root)
{
    public string Root { get; } = root;
    public string ProgramDirectory => Path.Combine(Root, "prog");
    public string LinkDirectory => Path.Combine(Root, "links");

    public string Program(TcxDirection direction) => Path.Combine(ProgramDirectory, Word(direction));

    public string Link(int ifIndex, TcxDirection direction) =>
        Path.Combine(LinkDirectory, $"{ifIndex.ToString(CultureInfo.InvariantCulture)}-{Word(direction)}");

    public static string Word(TcxDirection direction) => direction == TcxDirection.Ingress ? "ingress" : "egress";

    public static readonly IReadOnlyList<TcxDirection> Directions = [TcxDirection.Ingress, TcxDirection.Egress];

    public bool ProgramsPresent => Directions.All(d => File.Exists(Program(d)));

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
