// A two-host lab owned by one test: nodea (guests web, app and an unassigned one) and nodeb
// (guest db), joined by an underlay and a carrier; each host runs its own agent. Removed on
// Dispose even when the test fails.
using Microseg.Lab;
using Microseg.TestSupport;
using LabRig = Microseg.Lab.Lab;

namespace Microseg.Agent.Tests.Kernel;

public sealed class CarrierLab : IDisposable
{
    /// <summary>web and db may talk both ways; app has no rule (it is dropped wherever it goes).</summary>
    public const string Policy = """
        group: web
        	mark 10

        group: db
        	mark 20

        group: app
        	mark 30

        rule: p10-20
        	src web
        	dst db
        	action allow

        rule: p20-10
        	src db
        	dst web
        	action allow

        assignment: vm110i0
        	vmid 110
        	iface 0
        	group web

        assignment: vm130i0
        	vmid 130
        	iface 0
        	group app

        assignment: vm120i0
        	vmid 120
        	iface 0
        	group db

        """;

    /// <summary>und0, every host's underlay interface, as the SRv6 carrier interface.</summary>
    public const string Srv6Bridge = "bridge: und0\n";

    public const ushort Web = 10, Db = 20, App = 30, Untagged = 0;

    /// <param name="up">false: the caller builds and applies (e.g. with something in between).</param>
    /// <param name="attach">The agents' attach mode (tcx or tc); null: the default, auto.</param>
    public CarrierLab(LabCarrier carrier, string? policy = null, bool up = true, string? attach = null)
    {
        var name = "c" + Guid.NewGuid().ToString("N")[..7];
        policy ??= Policy + (carrier == LabCarrier.Srv6 ? Srv6Bridge : "");
        string Address(string host, int n) => carrier == LabCarrier.Srv6
            ? $"10.81.{(host == "nodea" ? 1 : 2)}.{n}/24"
            : $"10.81.0.{n}/24";
        LabGuest[] guests =
        [
            new("web", "nodea", 110, 0, Address("nodea", 110)),
            new("app", "nodea", 130, 0, Address("nodea", 130)),
            new("none", "nodea", 150, 0, Address("nodea", 150)),
            new("db", "nodeb", 120, 0, Address("nodeb", 120)),
        ];
        Lab = new LabRig(new LabSpec(name, policy, [new LabHost("nodea"), new LabHost("nodeb")], guests, carrier), RepoPaths.MicrosegBinary)
        {
            AgentEnvironment = LabGuard.Environment(attach),
        };
        if (!File.Exists(Lab.MicrosegBinary)) throw new InvalidOperationException($"{Lab.MicrosegBinary} is missing: run 'make build' first");
        if (up) Lab.Up(TextWriter.Null);
    }

    public LabRig Lab { get; }
    public LabHost A => Lab.Host("nodea");
    public LabHost B => Lab.Host("nodeb");
    public LabGuest Guest(string name) => Lab.Spec.Guests.First(g => g.Name == name);

    public string Microseg(LabHost host, params string[] args) => Lab.Microseg(host, args);

    public ShellResult MicrosegResult(LabHost host, params string[] args) => Lab.MicrosegResult(host, args);

    /// <summary>One-way UDP delivery between every pair of the named guests (default: all).</summary>
    public Dictionary<(string Src, string Dst), bool> Udp(params string[] guests) =>
        new Probes(Lab).OneWayUdp(guests.Length == 0 ? Lab.Spec.Guests : [.. guests.Select(Guest)]);

    /// <summary>The group nodeb (for nodea's guests) or nodea (for nodeb's) sees on each guest's datagrams.</summary>
    public Dictionary<string, ushort?> Seen(OwnSrv6Packet? ownPacket = null) =>
        new CarrierProbes(Lab).ObservedGroups(Lab.Spec.Guests, ownPacket).ToDictionary(o => o.Key.Guest, o => o.Value);

    public void Dispose() => LabRig.Down(Lab.Spec.Name);
}
