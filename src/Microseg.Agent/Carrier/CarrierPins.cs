// The pinned layout of the carrier subsystem under <bpffs>/carrier/:
//   prog/ingress  prog/egress  links/{ifindex}-{ingress|egress}
using Microseg.Bpf;

namespace Microseg.Agent.Carrier;

public sealed class CarrierPins(string root)
{
    public string Root { get; } = root;
    public string ProgramDirectory => Path.Combine(Root, "prog");
    public string LinkDirectory => Path.Combine(Root, "links");

    public string Program(TcxDirection direction) => Path.Combine(ProgramDirectory, Subsystems.TcxSlot.Word(direction));

    public bool ProgramsPresent => Subsystems.TcxSlot.Directions.All(d => File.Exists(Program(d)));
}
