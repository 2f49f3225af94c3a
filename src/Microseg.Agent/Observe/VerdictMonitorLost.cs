// What the kernel could not deliver since a monitor opened, from the per-NIC lost counts of the
// `monitor` map. The counts only grow while a NIC's entry lives, but the agent deletes the entry
// of a NIC that leaves the host and the programs make a new one (from 0) when it comes back, or
// when another NIC gets its ifindex: so the growth is accumulated reading by reading, per NIC,
// and a count below the last one read is a new entry whose whole count is new.
namespace Microseg.Agent.Observe;

internal sealed class LostCount
{
    private readonly object gate = new();
    private readonly Dictionary<uint, ulong> last = new();
    private readonly Dictionary<uint, ulong> growth = new();

    /// <summary>The counts at Open: the baseline.</summary>
    public void Start(IReadOnlyDictionary<uint, ulong> counts)
    {
        lock (gate)
            foreach (var (ifindex, count) in counts) last[ifindex] = count;
    }

    /// <summary>Takes a new reading; returns the growth since Start on the NICs <paramref name="which"/> accepts.</summary>
    public ulong Since(IReadOnlyDictionary<uint, ulong> counts, Func<uint, bool> which)
    {
        lock (gate)
        {
            foreach (var (ifindex, count) in counts)
            {
                ulong before = last.GetValueOrDefault(ifindex);
                growth[ifindex] = growth.GetValueOrDefault(ifindex) + (count >= before ? count - before : count);
                last[ifindex] = count;
            }
            // An entry gone (its NIC left) keeps what it grew; a new one starts from 0.
            foreach (var gone in last.Keys.Where(k => !counts.ContainsKey(k)).ToList()) last[gone] = 0;
            ulong total = 0;
            foreach (var (ifindex, grew) in growth)
                if (which(ifindex)) total += grew;
            return total;
        }
    }
}
