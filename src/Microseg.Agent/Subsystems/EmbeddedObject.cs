// A subsystem's BPF object as this build embeds it, its fingerprint (SHA-256 of the bytes) and
// the pinned-layout (schema) version it was written for. Test-only environment variables swap in
// another object file and claim another schema: MICROSEG_TEST_<SUBSYSTEM>_OBJECT and _SCHEMA.
using System.Globalization;
using System.Security.Cryptography;

namespace Microseg.Agent.Subsystems;

public sealed record EmbeddedObject(byte[] Bytes, int Schema, string Source)
{
    public string Fingerprint { get; } = Convert.ToHexStringLower(SHA256.HashData(Bytes));

    public static string OverrideVariable(string subsystem) => $"MICROSEG_TEST_{subsystem.ToUpperInvariant()}_OBJECT";

    public static string SchemaOverrideVariable(string subsystem) => $"MICROSEG_TEST_{subsystem.ToUpperInvariant()}_SCHEMA";

    /// <summary>The embedded resource <paramref name="resource"/> (or the test override).</summary>
    public static EmbeddedObject Load(string subsystem, string resource, int schema)
    {
        if (Environment.GetEnvironmentVariable(SchemaOverrideVariable(subsystem)) is { Length: > 0 } s)
            schema = int.Parse(s, CultureInfo.InvariantCulture);
        if (Environment.GetEnvironmentVariable(OverrideVariable(subsystem)) is { Length: > 0 } path)
            return new EmbeddedObject(File.ReadAllBytes(path), schema, path);
        using var stream = typeof(EmbeddedObject).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"{resource} is not embedded in this build (run 'make build')");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return new EmbeddedObject(bytes, schema, "embedded " + resource);
    }
}

/// <summary>How a subsystem got its programs: reused from pins, loaded fresh, switched to a new
/// program (same maps), or migrated to new maps (schema change).</summary>
public enum LoadOutcome { Reused, Loaded, Upgraded, Migrated }
