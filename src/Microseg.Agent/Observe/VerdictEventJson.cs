// The JSON lines of the monitor, one object per event and {"lost":N} for events the kernel
// could not deliver; the CLI and the API write the same objects. Written by hand with
// Utf8JsonWriter: no reflection, so it holds under Native AOT and trimming.
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Microseg.Agent.Observe;

public static class VerdictEventJson
{
    /// <summary>{"time":"2026-11-28T14:00:00.123Z","nic":...,"src_group":...,"dst_group":...,"src":...,
    /// "dst":...,"proto":...,"sport":...,"dport":...,"verdict":...,"reason":...,"len":...}; absent
    /// values are null.</summary>
    public static void Write(Utf8JsonWriter json, VerdictEvent e)
    {
        json.WriteStartObject();
        json.WriteString("time", Time(e.Time));
        json.WriteString("nic", e.Nic);
        json.WriteString("src_group", e.SrcGroup);
        json.WriteString("dst_group", e.DstGroup);
        json.WriteString("src", e.Src);
        json.WriteString("dst", e.Dst);
        json.WriteString("proto", e.Proto);
        WriteNumber(json, "sport", e.Sport);
        WriteNumber(json, "dport", e.Dport);
        json.WriteString("verdict", e.Verdict);
        json.WriteString("reason", e.Reason);
        json.WriteNumber("len", e.Length);
        json.WriteEndObject();
    }

    /// <summary>One event as a line of JSON (without the newline).</summary>
    public static string Line(VerdictEvent e) => Serialize(json => Write(json, e));

    /// <summary>{"lost":N}.</summary>
    public static string LostLine(ulong lost) => Serialize(json =>
    {
        json.WriteStartObject();
        json.WriteNumber("lost", lost);
        json.WriteEndObject();
    });

    /// <summary>UTC, milliseconds, 'Z': 2026-11-28T14:00:00.123Z.</summary>
    public static string Time(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteNumber(Utf8JsonWriter json, string name, int? value)
    {
        if (value is { } v) json.WriteNumber(name, v);
        else json.WriteNull(name);
    }

    private static string Serialize(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer)) write(json);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
