// `microseg` as one lab member runs it: inside the member's namespace, with the lab's config
// directory and the member's own bpffs, run dir and node name, and the lab's agent environment
// (e.g. MICROSEG_ATTACH) under any variables of the call.
using Microseg.Policy;

namespace Microseg.Lab;

internal sealed record LabAgent(string Binary, string Namespace, string ConfigDirectory, string BpffsRoot, string RunDirectory, string Node,
    IReadOnlyDictionary<string, string> Environment)
{
    public ShellResult Result(IReadOnlyDictionary<string, string>? env, string[] args) =>
        Shell.RunWith(Merged(env), "ip", ["netns", "exec", Namespace, Binary, .. args,
            "--config-dir", ConfigDirectory, "--bpffs", BpffsRoot, "--run-dir", RunDirectory, "--node", Node]);

    private IReadOnlyDictionary<string, string>? Merged(IReadOnlyDictionary<string, string>? env)
    {
        if (Environment.Count == 0) return env;
        var all = new Dictionary<string, string>(Environment);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) all[k] = v;
        return all;
    }

    /// <summary>Throws <see cref="LabException"/> unless it exits 0.</summary>
    public string Run(string[] args)
    {
        var r = Result(null, args);
        if (r.ExitCode != 0) throw new LabException($"[{Node}] microseg {string.Join(' ', args)}: exit {r.ExitCode}: {r.Stderr.Trim()}");
        return r.Stdout;
    }

    /// <summary>Runs and writes "[node] microseg ARGS" and the output, indented, to <paramref name="log"/>.</summary>
    public void Show(TextWriter log, string[] args)
    {
        var output = Run(args);
        log.WriteLine($"[{Node}] microseg {string.Join(' ', args)}");
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries)) log.WriteLine($"  {line}");
    }

    /// <summary>The store of a lab's config directory, which its members' `microseg --config-dir` read.</summary>
    public static IConfigStore Store(string configDirectory) => new DirectoryConfigStore(configDirectory);

    /// <summary>Replaces the pending policy of the store and commits it, without applying.</summary>
    public static Snapshot Commit(IConfigStore store, string policyText)
    {
        store.EditPending(_ => SectionConfig.Parse(policyText, store.PendingLocation));
        // The lab states its whole policy, an empty one included: that is asked for.
        return store.Commit(allowEmpty: true).Snapshot;
    }
}
