// The pinned events ring of the policy programs, decoded with the Abi mirror (MonitorEvent):
// the test's own reader, to check what the kernel writes (the user-facing one is the monitor's).
using Microseg.Bpf;
using Microseg.Bpf.Abi;
using Microseg.TestSupport;

namespace Microseg.Agent.Tests.Kernel;

internal sealed class EventsRing : IDisposable
{
    private readonly BpfMap map;
    private readonly RingBufferReader reader;

    public EventsRing(string pin)
    {
        map = BpfMap.OpenPinned(pin);
        try { reader = new RingBufferReader(map); }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    public List<MonitorEvent> Drain(int waitMs = 200) => [.. reader.Drain(waitMs).Select(r => MonitorEvent.Read(r))];

    public void Dispose()
    {
        reader.Dispose();
        map.Dispose();
    }
}
