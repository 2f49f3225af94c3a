// Hand-built netlink bytes for the framing tests: headers and attributes, native byte order.
namespace Microseg.Netlink.Tests;

internal static class Bytes
{
    public static byte[] Attribute(ushort type, params byte[] payload)
    {
        var bytes = new byte[Align(4 + payload.Length)];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), (ushort)(4 + payload.Length));
        BitConverter.TryWriteBytes(bytes.AsSpan(2), type);
        payload.CopyTo(bytes, 4);
        return bytes;
    }

    public static byte[] U32(uint value) => BitConverter.GetBytes(value);

    public static byte[] Message(ushort type, ushort flags, uint sequence, params byte[] payload)
    {
        var bytes = new byte[Align(16 + payload.Length)];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), (uint)(16 + payload.Length));
        BitConverter.TryWriteBytes(bytes.AsSpan(4), type);
        BitConverter.TryWriteBytes(bytes.AsSpan(6), flags);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), sequence);
        payload.CopyTo(bytes, 16);
        return bytes;
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private static int Align(int length) => (length + 3) & ~3;
}
