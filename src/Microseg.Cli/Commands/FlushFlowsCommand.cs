// `microseg flush-flows [--nic IFACE | --group G]`: empties this host's flow table (or one NIC's
// or one group's part of it), so that replies to the flows guests opened pass no longer unless
// the rules allow them. Rules decide new flows as ever; an open connection whose reverse
// direction no rule allows is cut at once, instead of when it ends or goes idle.
using System.CommandLine;
using Microseg.Agent.Policy;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class FlushFlowsCommand : Command
{
    public FlushFlowsCommand(Io io) : base("flush-flows", "Remove tracked flows (all, one NIC's or a group's) so that their replies pass only where rules allow them")
    {
        var nic = new Option<string?>("--nic") { Description = "Only the flows this guest NIC opened (tap{vmid}i{n} or veth{vmid}i{n})", HelpName = "IFACE" };
        var group = new Option<string?>("--group") { Description = "Only the flows opened by NICs of this group and the groups below it", HelpName = "G" };
        Options.Add(nic);
        Options.Add(group);
        AgentOptionSet.AddTo(this);
        SetAction(parse =>
        {
            var (nicName, groupName) = (parse.GetValue(nic), parse.GetValue(group));
            if (nicName is not null && groupName is not null)
                throw new UserException("give --nic or --group, not both");
            PolicyConfig? config = null;
            if (groupName is not null) config = AgentOptionSet.Snapshot(parse);
            else
            {
                try { config = MicrosegRootCommand.Store(parse).ReadRunning()?.Config; }
                catch (ConfigException) { config = null; } // all flows or a NIC's need no snapshot
            }
            FlowScope scope = nicName is not null ? new FlowScope.OfNic(nicName) : groupName is not null ? new FlowScope.OfGroup(groupName) : FlowScope.All;
            using var logs = AgentOptionSet.Logs(parse, io);
            var result = AgentOptionSet.Agent(parse, logs).FlushFlows(config, scope);
            var where = scope switch
            {
                FlowScope.OfNic(var n) => n,
                FlowScope.OfGroup(var g) => $"group {g}: " + (result.Nics.Count == 0 ? "no NIC enforced here" : string.Join(", ", result.Nics)),
                _ => "all NICs",
            };
            io.Out.WriteLine($"flush-flows: {result.Removed} flow{(result.Removed == 1 ? "" : "s")} removed ({where})");
            return ExitCodes.Ok;
        });
    }
}
