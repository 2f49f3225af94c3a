// Netlink attributes (struct nlattr + payload, 4-byte aligned): iteration, nesting and the
// typed reads the link parser needs, each checking the payload size it expects.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using static Microseg.Netlink.Uapi;

namespace Microseg.Netlink;

/// <summary>One attribute. <see cref="Type"/> has the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits masked off.</summary>
public readonly ref struct NetlinkAttribute
{
    private readonly ushort rawType;

    internal NetlinkAttribute(ushort rawType, ReadOnlySpan<byte> payload, int offset)
    {
        this.rawType = rawType;
        Payload = payload;
        Offset = offset;
    }

    public ushort Type => (ushort)(rawType & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER));

    /// <summary>The sender marked this attribute as nested. Old kernel code nests without the mark.</summary>
    public bool IsNested => (rawType & NLA_F_NESTED) != 0;

    /// <summary>The payload, nla_len - 4 bytes, padding excluded. Empty for a flag attribute.</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>Where the attribute header starts within its container.</summary>
    public int Offset { get; }

    public byte GetByte() => Fixed(1)[0];

    public ushort GetUInt16() => MemoryMarshal.Read<ushort>(Fixed(2));

    /// <summary>A u16 the kernel stores in network byte order (ports).</summary>
    public ushort GetUInt16BigEndian() => BinaryPrimitives.ReadUInt16BigEndian(Fixed(2));

    public uint GetUInt32() => MemoryMarshal.Read<uint>(Fixed(4));

    public int GetInt32() => MemoryMarshal.Read<int>(Fixed(4));

    /// <summary>A NUL-terminated string; a missing terminator ends it at the payload end.</summary>
    public string GetString()
    {
        int end = Payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? Payload : Payload[..end]);
    }

    /// <summary>The attributes inside this one.</summary>
    public NetlinkAttributeReader GetNested() => new(Payload);

    private ReadOnlySpan<byte> Fixed(int size) =>
        Payload.Length == size
            ? Payload
            : throw new NetlinkFormatException(
                $"attribute type {Type} at offset {Offset}: payload is {Payload.Length} bytes, expected {size}");
}

/// <summary>Enumerates the attributes in a buffer; use with <c>foreach</c>.</summary>
/// <exception cref="NetlinkFormatException">a header is cut short, claims fewer than 4 or more bytes than are there.</exception>
public ref struct NetlinkAttributeReader
{
    private readonly ReadOnlySpan<byte> buffer;
    private int offset;
    private NetlinkAttribute current;

    public NetlinkAttributeReader(ReadOnlySpan<byte> buffer)
    {
        this.buffer = buffer;
    }

    public readonly NetlinkAttributeReader GetEnumerator() => this;

    public readonly NetlinkAttribute Current => current;

    public bool MoveNext()
    {
        int remaining = buffer.Length - offset;
        if (remaining == 0) return false;
        if (remaining < NLA_HDRLEN)
            throw new NetlinkFormatException(
                $"attribute at offset {offset}: only {remaining} bytes left, a header needs {NLA_HDRLEN}");
        ushort length = MemoryMarshal.Read<ushort>(buffer[(offset + Layout.nlattr_nla_len)..]);
        ushort rawType = MemoryMarshal.Read<ushort>(buffer[(offset + Layout.nlattr_nla_type)..]);
        // A zero nla_len would never advance: reject it rather than loop.
        if (length < NLA_HDRLEN)
            throw new NetlinkFormatException(
                $"attribute at offset {offset}: nla_len {length} is shorter than its {NLA_HDRLEN}-byte header");
        if (length > remaining)
            throw new NetlinkFormatException(
                $"attribute type {rawType & ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER)} at offset {offset}: nla_len {length} runs past the end of its container ({remaining} bytes left)");
        current = new NetlinkAttribute(rawType, buffer.Slice(offset + NLA_HDRLEN, length - NLA_HDRLEN), offset);
        offset += Math.Min(NetlinkMessageReader.Align(length), remaining);
        return true;
    }
}
