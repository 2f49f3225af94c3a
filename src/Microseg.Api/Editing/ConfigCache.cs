// The API's reads of the pending config and the snapshot, with the engine of each resolved once
// per content. The store parses each version once and hands out the same instance while it is
// unchanged; the engine (marks assigned, validated, resolved) is kept beside that instance, so
// under load explain and matrix cost a store read, not a parse and a resolve.
using System.Runtime.CompilerServices;
using Microseg.Policy;

namespace Microseg.Api.Editing;

/// <summary>A config resolved for reading: its engine and its group hierarchy.</summary>
public sealed record ResolvedConfig(PolicyEngine Engine, GroupForest Forest);

public sealed class ConfigCache(IConfigStore store)
{
    // Keyed by the config instance: an entry goes with the version it was built from.
    private readonly ConditionalWeakTable<PolicyConfig, Lazy<ResolvedConfig>> resolved = new();

    public PendingConfig ReadPending() => store.ReadPending();

    /// <summary>The committed snapshot, or null when nothing was committed yet.</summary>
    public Snapshot? ReadRunning() => store.ReadRunning();

    /// <summary>The engine of the pending config (marks a commit would assign included) or of
    /// the snapshot (null when nothing was committed); ConfigException when that config is
    /// invalid, each time it is asked.</summary>
    public PolicyEngine? Engine(bool committed) => Resolve(committed)?.Engine;

    /// <summary>As <see cref="Engine"/>, with the group hierarchy of the same version.</summary>
    public ResolvedConfig? Resolve(bool committed)
    {
        var config = committed ? store.ReadRunning()?.Config : store.ReadPending().Config;
        return config is null ? null : resolved.GetValue(config, c => new Lazy<ResolvedConfig>(() => Build(c))).Value;
    }

    private static ResolvedConfig Build(PolicyConfig config)
    {
        (config, _) = Marks.AssignMissing(config);
        Validation.Ensure(config);
        return new ResolvedConfig(new PolicyEngine(config), new GroupForest(config));
    }
}
