// The pinned layout of the policy subsystem under <bpffs>/policy/:
//   prog/ingress  prog/egress  nic_group  verdicts  links/{ifindex}-{ingress|egress}
// and, only while a schema migration runs, next/ with the new maps.
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

    public bool AllPresent => File.Exists(IngressProgram) && File.Exists(EgressProgram) && File.Exists(NicGroup) && File.Exists(Verdicts);
}
