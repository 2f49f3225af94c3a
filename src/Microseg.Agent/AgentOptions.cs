// Where the agent keeps kernel state and run state, and which node it is. All overridable so
// that several simulated hosts can run on one machine.
namespace Microseg.Agent;

/// <param name="Attach">How tc programs reach interfaces: tcx links, tc filters, or auto (tcx
/// where the kernel has it).</param>
public sealed record AgentOptions(string BpffsRoot, string RunDirectory, string Node, Microseg.Bpf.AttachMode Attach = Microseg.Bpf.AttachMode.Auto)
{
    public const string DefaultBpffsRoot = "/sys/fs/bpf/microseg";
    public const string DefaultRunDirectory = "/run/microseg";

    /// <summary>The mode in effect on this kernel, and why.</summary>
    public Microseg.Bpf.AttachModeChoice AttachChoice() => Microseg.Bpf.BpfFeatures.ChooseAttachMode(Attach);

    public string BpffsFor(string subsystem) => Path.Combine(BpffsRoot, subsystem);
    public string RunFor(string subsystem) => Path.Combine(RunDirectory, subsystem);

    /// <summary>Where bpffs must be mounted for the pin root: the bpffs it is already on, else
    /// /sys/fs/bpf for roots below it, else the root itself (a simulated host's own bpffs,
    /// outside /sys, which `ip netns exec` remounts).</summary>
    public string BpffsMountPoint()
    {
        var root = Path.GetFullPath(BpffsRoot);
        for (var dir = root; dir is not null; dir = Path.GetDirectoryName(dir))
            if (Directory.Exists(dir) && Microseg.Bpf.Bpffs.IsOnBpffs(dir)) return dir;
        return root.StartsWith("/sys/fs/bpf/", StringComparison.Ordinal) || root == "/sys/fs/bpf" ? "/sys/fs/bpf" : root;
    }
}
