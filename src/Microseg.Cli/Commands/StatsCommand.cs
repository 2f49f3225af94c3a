// `microseg stats [--json] [--group G] [--nic IFACE]`: the data plane's counters on this host,
// summed over the CPUs: packets and bytes per deciding rule (allow, deny, audit) and per
// destination group for its default deny, the replies and the infrastructure traffic let in.
using System.CommandLine;
using System.Globalization;
using Microseg.Agent.Observe;
using Microseg.Agent.Policy;
using Microseg.Policy;

namespace Microseg.Cli.Commands;

public sealed class StatsCommand : Command
{
    public StatsCommand(Io io) : base("stats", "Show the packets and bytes counted per deciding rule and destination group (default deny, replies, infrastructure) on this host")
    {
        var json = new Option<bool>("--json") { Description = "JSON output: the node and one row per counter (kind, rule, group, packets, bytes)" };
        var group = new Option<string?>("--group") { Description = "Only the counters of this destination group", HelpName = "G" };
        var nic = new Option<string?>("--nic") { Description = "Only the counters of this guest NIC's group (tap{vmid}i{n} or veth{vmid}i{n}; needs the committed policy)", HelpName = "IFACE" };
        Options.Add(json);
        Options.Add(group);
        Options.Add(nic);
        AgentOptionSet.AddTo(this);
        SetAction(parse =>
        {
            var (groupName, nicName) = (parse.GetValue(group), parse.GetValue(nic));
            if (groupName is not null && nicName is not null)
                throw new UserException("give --group or --nic, not both");
            if (nicName is not null) groupName = GroupOfNic(AgentOptionSet.Snapshot(parse), nicName);
            var stats = PolicyCounters.Read(AgentOptionSet.Options(parse));
            var rows = groupName is null ? stats.Rows : [.. stats.Rows.Where(r => r.Group == groupName)];
            if (parse.GetValue(json))
            {
                Output.Json.Write(io.Out, w => Microseg.Api.Endpoints.PolicyStatsJson.Write(w, stats.Node, rows));
                return ExitCodes.Ok;
            }
            if (rows.Count == 0)
            {
                io.Out.WriteLine(groupName is null
                    ? $"stats: no counters on {stats.Node} (no NIC enforced here)"
                    : $"stats: no counters for group {groupName} on {stats.Node} (no NIC of it enforced here)");
                return ExitCodes.Ok;
            }
            var table = new Output.Table("KIND", "RULE", "GROUP", "PACKETS", "BYTES");
            foreach (var r in rows)
                table.Row(r.Kind, r.Rule ?? "-", r.Group, r.Packets.ToString(CultureInfo.InvariantCulture), r.Bytes.ToString(CultureInfo.InvariantCulture));
            table.WriteTo(io.Out);
            return ExitCodes.Ok;
        });
    }

    private static string GroupOfNic(PolicyConfig config, string nic)
    {
        if (!GuestNic.TryParse(nic, out var guest))
            throw new UserException($"--nic {nic}: not a guest NIC name (tap{{vmid}}i{{n}} or veth{{vmid}}i{{n}})");
        if (!config.Assignments.TryGetValue(guest.AssignmentId, out var assignment))
            throw new UserException($"--nic {nic}: no assignment {guest.AssignmentId} in the committed policy: it is not enforced");
        return assignment.Group;
    }
}
