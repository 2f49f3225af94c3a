// A lab owned by one test: built on creation, removed on Dispose even when the test fails.
using Microseg.Lab;
using Microseg.TestSupport;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Agent.Tests.Kernel;

public sealed class LabGuard : IDisposable
{
    /// <param name="attach">The agent's attach mode (MICROSEG_ATTACH: tcx or tc); null: the default, auto.</param>
    /// <param name="ipv6">false: IPv6 off in the lab's namespaces from their creation (no traffic of the guests' own).</param>
    public LabGuard(string policyText, IEnumerable<(string Name, long Vmid, long Iface)> guests, bool up = true, string? attach = null, bool ipv6 = true)
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..7];
        var hosts = new[] { new LabHost("node1") };
        int n = 10;
        var labGuests = guests.Select(g => new LabGuest(g.Name, "node1", g.Vmid, g.Iface, $"10.78.{n / 250}.{n++ % 250 + 1}/16")).ToList();
        Lab = new LabRig(new LabSpec(name, policyText, hosts, labGuests), RepoPaths.MicrosegBinary) { AgentEnvironment = Environment(attach), Ipv6 = ipv6 };
        if (!File.Exists(Lab.MicrosegBinary)) throw new InvalidOperationException($"{Lab.MicrosegBinary} is missing: run 'make build' first");
        if (up) Lab.Up(TextWriter.Null);
    }

    public LabRig Lab { get; }

    /// <summary>The variables that run a lab's agents in <paramref name="attach"/> mode.</summary>
    public static Dictionary<string, string> Environment(string? attach) =>
        attach is null ? [] : new() { ["MICROSEG_ATTACH"] = attach };
    public LabHost Host => Lab.Spec.Hosts[0];
    public LabGuest Guest(string name) => Lab.Spec.Guests.First(g => g.Name == name);

    public string Microseg(params string[] args) => Lab.Microseg(Host, args);

    public ShellResult MicrosegResult(params string[] args) => Lab.MicrosegResult(Host, args);

    /// <summary>One-way UDP delivery for the given (src, dst) pairs (or all pairs).</summary>
    public Dictionary<(string Src, string Dst), bool> Udp(IReadOnlyList<LabGuest>? guests = null) =>
        new Probes(Lab).OneWayUdp(guests ?? Lab.Spec.Guests);

    public void Dispose() => LabRig.Down(Lab.Spec.Name);
}
