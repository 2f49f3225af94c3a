// Names for what a verdict event carries as numbers: the counter slot of the deciding rule (from
// the slot table the last apply saved), group marks (from the committed policy) and the NIC's
// ifindex (from the host's links, read again when an unknown one shows up).
using System.Globalization;
using Microseg.Agent.Policy;
using Microseg.Agent.Subsystems;
using Microseg.Policy;

namespace Microseg.Agent.Observe;

/// <summary>Resolves an event's slot, marks and ifindex to names (null: unknown).</summary>
public interface IVerdictNames
{
    /// <summary>The id of the rule counted on <paramref name="slot"/>; null for slot 0, a slot
    /// of a group's default deny, replies or infrastructure, or one the table does not know.</summary>
    string? Rule(uint slot);

    /// <summary>The group of <paramref name="mark"/>; null for 0 (untagged) and unknown marks.</summary>
    string? Group(ushort mark);

    /// <summary>The interface name of <paramref name="ifindex"/> on this host.</summary>
    string? Nic(int ifindex);
}

public sealed class VerdictNames : IVerdictNames
{
    private readonly AgentOptions options;
    private readonly IInterfaceSource interfaces;
    private CounterSlotTable slots;
    private DateTime slotsWritten;
    private readonly Dictionary<ushort, string> groups;
    private Dictionary<int, string> nics = new();

    /// <param name="config">The committed policy (null: groups are unknown, shown by mark).</param>
    public VerdictNames(AgentOptions options, PolicyConfig? config, IInterfaceSource? interfaces = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        this.interfaces = interfaces ?? new NetlinkInterfaces();
        groups = config?.Groups.Values.Where(g => g.Mark.HasValue).ToDictionary(g => (ushort)g.Mark!.Value, g => g.Name) ?? new();
        slots = CounterSlotTable.Empty;
        ReloadSlots();
    }

    private string SlotsPath => CounterSlotTable.PathIn(options.RunFor(PolicySubsystem.SubsystemName));

    /// <summary>Reads the slot table again when an apply rewrote it.</summary>
    private void ReloadSlots()
    {
        var written = File.Exists(SlotsPath) ? File.GetLastWriteTimeUtc(SlotsPath) : DateTime.MinValue;
        if (written == slotsWritten) return;
        slots = CounterSlotTable.Load(SlotsPath);
        slotsWritten = written;
    }

    public string? Rule(uint slot)
    {
        if (slot == 0 || slot > ushort.MaxValue) return null;
        if (!slots.Slots.ContainsKey((ushort)slot)) ReloadSlots();
        return slots.Slots.TryGetValue((ushort)slot, out var key) ? key.Rule : null;
    }

    public string? Group(ushort mark) => mark == 0 ? null : groups.GetValueOrDefault(mark);

    public string? Nic(int ifindex)
    {
        if (nics.TryGetValue(ifindex, out var name)) return name;
        nics = interfaces.Links().ToDictionary(l => l.IfIndex, l => l.Name);
        return nics.GetValueOrDefault(ifindex);
    }

    public override string ToString() => $"VerdictNames {{ {slots.Slots.Count.ToString(CultureInfo.InvariantCulture)} slots, {groups.Count.ToString(CultureInfo.InvariantCulture)} groups }}";
}
