// The pinned layout of the policy subsystem under <bpffs>/policy/:
//   prog/ingress  prog/egress  nic_group  verdicts  services  flows  counters  events  monitor
//   monitor_config  links/{ifindex}-{ingress|egress}
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
    public string Services => Path.Combine(Root, "services");
    public string Flows => Path.Combine(Root, "flows");
    public string Counters => Path.Combine(Root, "counters");
    public string Events => Path.Combine(Root, "events");
    public string Monitor => Path.Combine(Root, "monitor");
    public string MonitorConfig => Path.Combine(Root, "monitor_config");
    public string LinkDirectory => Path.Combine(Root, "links");
    public string NextDirectory => Path.Combine(Root, "next");
    public string NextNicGroup => Path.Combine(NextDirectory, "nic_group");
    public string NextVerdicts => Path.Combine(NextDirectory, "verdicts");
    public string NextServices => Path.Combine(NextDirectory, "services");
    public string NextFlows => Path.Combine(NextDirectory, "flows");
    public string NextCounters => Path.Combine(NextDirectory, "counters");

    /// <summary>Every map's pin, as (map name, live pin, pin during a migration).</summary>
    public IReadOnlyList<(string Map, string Live, string Next)> Maps =>
    [
        ("nic_group", NicGroup, NextNicGroup), ("verdicts", Verdicts, NextVerdicts),
        ("services", Services, NextServices), ("flows", Flows, NextFlows),
        ("counters", Counters, NextCounters), ("events", Events, Path.Combine(NextDirectory, "events")),
        ("monitor", Monitor, Path.Combine(NextDirectory, "monitor")), ("monitor_config", MonitorConfig, Path.Combine(NextDirectory, "monitor_config")),
    ];

    public string Program(TcxDirection direction) => direction == TcxDirection.Ingress ? IngressProgram : EgressProgram;

    public bool AllPresent => File.Exists(IngressProgram) && File.Exists(EgressProgram) && Maps.All(m => File.Exists(m.Live));
}
