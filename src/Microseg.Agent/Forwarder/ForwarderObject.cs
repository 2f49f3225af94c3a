// The forwarder BPF object this build embeds, its fingerprint (SHA-256 of the bytes) and the map
// schema version it was written for. A test-only override swaps in another object file.
using System.Globalization;
using System.Security.Cryptography;
using Microseg.Bpf.Abi;

namespace Microseg.Agent.Forwarder;

public sealed record ForwarderObject(byte[] Bytes, int Schema, string Source)
{
    /// <summary>Test-only: the path of another object file to load instead of the embedded one,
    /// and optionally the schema version to claim for it.</summary>
    public const string OverrideVariable = "MICROSEG_TEST_FORWARDER_OBJECT";
    public const string SchemaOverrideVariable = "MICROSEG_TEST_FORWARDER_SCHEMA";

    public string Fingerprint { get; } = Convert.ToHexStringLower(SHA256.HashData(Bytes));

    public static ForwarderObject Current()
    {
        var schema = Environment.GetEnvironmentVariable(SchemaOverrideVariable) is { Length: > 0 } s
            ? int.Parse(s, CultureInfo.InvariantCulture)
            : ForwarderAbi.SchemaVersion;
        if (Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } path)
            return new ForwarderObject(File.ReadAllBytes(path), schema, path);
        using var stream = typeof(ForwarderObject).Assembly.GetManifestResourceStream(ForwarderAbi.ObjectFile)
            ?? throw new InvalidOperationException($"{ForwarderAbi.ObjectFile} is not embedded in this build (run 'make build')");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return new ForwarderObject(bytes, schema, "embedded " + ForwarderAbi.ObjectFile);
    }
}
