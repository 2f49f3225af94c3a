// The carrier BPF object this build embeds, its fingerprint (SHA-256 of the bytes) and the
// pinned-layout version it was written for. A test-only override swaps in another object file.
using System.Security.Cryptography;
using Microseg.Bpf.Abi;

namespace Microseg.Agent.Carrier;

public sealed record CarrierObject(byte[] Bytes, int Schema, string Source)
{
    /// <summary>Test-only: the path of another object file to load instead of the embedded one.</summary>
    public const string OverrideVariable = "MICROSEG_TEST_CARRIER_OBJECT";

    public string Fingerprint { get; } = Convert.ToHexStringLower(SHA256.HashData(Bytes));

    public static CarrierObject Current()
    {
        if (Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } path)
            return new CarrierObject(File.ReadAllBytes(path), CarrierAbi.SchemaVersion, path);
        using var stream = typeof(CarrierObject).Assembly.GetManifestResourceStream(CarrierAbi.ObjectFile)
            ?? throw new InvalidOperationException($"{CarrierAbi.ObjectFile} is not embedded in this build (run 'make build')");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return new CarrierObject(bytes, CarrierAbi.SchemaVersion, "embedded " + CarrierAbi.ObjectFile);
    }
}
