// TEMP: the contract's types until obs-dp and obs-mon are merged. Deleted at the merge.
using System.Text.Json;
namespace Microseg.Agent.Observe {
public sealed record VerdictEvent(DateTimeOffset Time, string Nic, string? SrcGroup, string DstGroup,
    string? Src, string? Dst, string? Proto, int? Sport, int? Dport, string Verdict, string Reason, uint Length) { public const string Drop = "drop"; }
public sealed class VerdictMonitor : IAsyncDisposable
{
    public static VerdictMonitor Open(AgentOptions options, bool flows, IVerdictNames names) => throw new AgentException("no monitor before the obs-mon merge");
    public async IAsyncEnumerable<VerdictEvent> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel) { await Task.Delay(-1, cancel); yield break; }
    public ulong Lost => 0;
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
public static class VerdictEventJson { public static void Write(Utf8JsonWriter json, VerdictEvent e) { json.WriteStartObject(); json.WriteEndObject(); } }
}
