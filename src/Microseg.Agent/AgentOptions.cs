// Where the agent keeps kernel state and run state, and which node it is. All overridable so
// that several simulated hosts can run on one machine.
namespace Microseg.Agent;

public sealed record AgentOptions(string BpffsRoot, string RunDirectory, string Node)
{
    public const string DefaultBpffsRoot = "/sys/fs/bpf/microseg";
    public const string DefaultRunDirectory = "/run/microseg";

    public string BpffsFor(string subsystem) => Path.Combine(BpffsRoot, subsystem);
    public string RunFor(string subsystem) => Path.Combine(RunDirectory, subsystem);
}
