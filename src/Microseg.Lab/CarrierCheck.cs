// `lab check` on a multi-host lab: which group does each host see on each other host's guests?
// Every guest sends a datagram to every other host, whose MarkReceiver reads the mark; the
// expectation is the guest's own group (untagged when it has none). In SRv6 labs every guest
// also sends its own SRv6 packet claiming another group in the SRH tag: the receiving host must
// still see the guest's own group.
using System.Globalization;
using System.Text;
using Microseg.Policy;

namespace Microseg.Lab;

/// <param name="Claimed">The tag the guest put in its own SRv6 packet; null for a plain datagram.</param>
/// <param name="Observed">The group the host saw; null when nothing arrived.</param>
public sealed record GroupObservation(LabGuest Guest, LabHost Host, ushort Expected, ushort? Claimed, ushort? Observed)
{
    public bool Matches => Observed == Expected;
}

public sealed record CarrierReport(IReadOnlyList<GroupObservation> Plain, IReadOnlyList<GroupObservation> Forged)
{
    public bool AllMatch => Plain.Concat(Forged).All(o => o.Matches);
}

public static class CarrierCheck
{
    public static CarrierReport Run(Lab lab, IReadOnlyList<LabGuest>? guests = null)
    {
        guests ??= lab.Spec.Guests;
        var config = lab.Committed(); // every group has its mark: commit assigns the missing ones
        var marks = config.Groups.Values.Where(g => g.Mark.HasValue).OrderBy(g => g.Mark).Select(g => (ushort)g.Mark!.Value).ToList();
        ushort Own(LabGuest g) => LabCheck.GroupOf(config, g) is { } group ? (ushort)config.Groups[group].Mark!.Value : (ushort)0;
        // The forgery claims a group that is not the guest's own: the first other one.
        ushort Claim(LabGuest g) => marks.FirstOrDefault(m => m != Own(g), (ushort)0xffff);

        var probes = new CarrierProbes(lab);
        var byName = guests.ToDictionary(g => g.Name);
        List<GroupObservation> Observe(Func<LabGuest, OwnSrv6Packet?> packet) =>
            [.. probes.ObservedGroups(guests, packet).Select(o => new GroupObservation(byName[o.Key.Guest], lab.Host(o.Key.Host),
                Own(byName[o.Key.Guest]), packet(byName[o.Key.Guest])?.ClaimedTag, o.Value))];
        var plain = Observe(_ => null);
        var forged = lab.Spec.Carrier == LabCarrier.Srv6 ? Observe(g => OwnSrv6Packet.Plain(Claim(g))) : [];
        return new CarrierReport(plain, forged);
    }

    public static string Render(Lab lab, CarrierReport report)
    {
        var config = lab.Committed();
        var names = config.Groups.Values.Where(g => g.Mark.HasValue).ToDictionary(g => (ushort)g.Mark!.Value, g => g.Name);
        string Group(ushort mark) => mark == 0 ? "untagged" : $"{names.GetValueOrDefault(mark, "?")}({mark.ToString(CultureInfo.InvariantCulture)})";
        var hosts = lab.Spec.Hosts.Select(h => h.Name).ToList();
        var sb = new StringBuilder();
        void Table(IReadOnlyList<GroupObservation> rows, bool claims)
        {
            var header = new List<string> { "guest", "host", "group" };
            if (claims) header.Add("claims");
            header.AddRange(hosts.Select(h => $"{h} sees"));
            var lines = new List<IReadOnlyList<string>> { header };
            foreach (var guest in rows.Select(r => r.Guest).Distinct())
            {
                var own = rows.First(r => r.Guest == guest).Expected;
                var line = new List<string> { guest.Name, guest.Host, Group(own) };
                if (claims) line.Add(Group(rows.First(r => r.Guest == guest).Claimed ?? 0));
                foreach (var h in hosts)
                {
                    var cell = "-";
                    if (rows.FirstOrDefault(r => r.Guest == guest && r.Host.Name == h) is { } o)
                        cell = (o.Observed is { } seen ? Group(seen) : "nothing") + (o.Matches ? "" : " !");
                    line.Add(cell);
                }
                lines.Add(line);
            }
            TextTable.Write(sb, lines, indent: "  ");
        }
        sb.AppendLine($"Groups across hosts ({lab.Spec.Carrier.Name()}): every guest sends a datagram to every other host, which reads its mark (SO_RCVMARK); '!' marks a group that is not the guest's own.");
        Table(report.Plain, claims: false);
        if (report.Forged.Count > 0)
        {
            sb.AppendLine("Own SRv6 packets: every guest builds an SRv6 packet whose SRH tag claims another group; the receiving host must still see the guest's own.");
            Table(report.Forged, claims: true);
        }
        var all = report.Plain.Count + report.Forged.Count;
        var bad = report.Plain.Concat(report.Forged).Count(o => !o.Matches);
        sb.AppendLine(bad == 0
            ? $"result: every host sees every guest's own group ({all} probes)"
            : $"result: MISMATCH ({bad} of {all} probes: a host does not see the guest's own group)");
        return sb.ToString();
    }
}
