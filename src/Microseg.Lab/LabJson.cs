// The lab's JSON (lab files and a forwarder lab's state) through source-generated metadata, so
// the native executable reads and writes it without reflection.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microseg.Lab;

[JsonSourceGenerationOptions(
    PropertyNameCaseInsensitive = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(LabSpec.FileForm))]
internal sealed partial class LabJson : JsonSerializerContext
{
    /// <summary>The same options, indented (lab files people read).</summary>
    public static LabJson Indented => indented ??= new(new JsonSerializerOptions(Default.Options) { WriteIndented = true });

    private static LabJson? indented;
}

/// <summary>A forwarder lab's state file: plain (case-sensitive, unknown members ignored), as
/// before source generation.</summary>
[JsonSerializable(typeof(ForwarderLab.State))]
internal sealed partial class ForwarderLabJson : JsonSerializerContext;
