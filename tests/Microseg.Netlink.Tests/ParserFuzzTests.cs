// Random, truncated and corrupted bytes through every parsing path: the only acceptable
// failure is NetlinkFormatException (no IndexOutOfRange, no hang, no other exception type).
namespace Microseg.Netlink.Tests;

public class ParserFuzzTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_bytes(int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < 20_000; i++)
        {
            var buffer = new byte[random.Next(0, 256)];
            random.NextBytes(buffer);
            // Plausible small lengths reach deeper than uniformly random ones.
            if (buffer.Length >= 4 && random.Next(2) == 0)
                BitConverter.TryWriteBytes(buffer.AsSpan(0), (uint)random.Next(0, buffer.Length + 8));
            Exercise(buffer, everyAttributeAsNested: true);
        }
    }

    [Fact]
    public void Every_truncation_of_captured_replies()
    {
        foreach (var capture in new[] { Captured.LinksDump, Captured.GetVx0, Captured.GetMissing, Captured.DumpRefused })
            for (int length = 0; length <= capture.Length; length++)
                Exercise(capture[..length], everyAttributeAsNested: false);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Corrupted_captured_replies(int seed)
    {
        var random = new Random(seed);
        var captures = new[] { Captured.LinksDump, Captured.GetVx0, Captured.GetMissing, Captured.DumpRefused };
        for (int i = 0; i < 5_000; i++)
        {
            var buffer = (byte[])captures[random.Next(captures.Length)].Clone();
            for (int flips = random.Next(1, 6); flips > 0; flips--)
            {
                int at = random.Next(buffer.Length);
                // Mostly single bits; sometimes a whole byte, often in a length field.
                buffer[at] = random.Next(3) == 0 ? (byte)random.Next(256) : (byte)(buffer[at] ^ (1 << random.Next(8)));
            }
            Exercise(buffer, everyAttributeAsNested: true);
        }
    }

    private static void Exercise(byte[] buffer, bool everyAttributeAsNested)
    {
        try
        {
            new LinkReply(Captured.DumpSequence).Accept(buffer);
        }
        catch (NetlinkFormatException)
        {
        }
        try
        {
            foreach (var message in new NetlinkMessageReader(buffer))
            {
                try
                {
                    if (message.Type is Uapi.NLMSG_ERROR or Uapi.NLMSG_DONE) NetlinkStatus.Read(message);
                    else LinkMessageParser.Parse(message);
                }
                catch (NetlinkFormatException)
                {
                }
                if (!everyAttributeAsNested) continue;
                WalkAsAttributes(message.Payload, depth: 0);
                if (message.Payload.Length >= 16) WalkAsAttributes(message.Payload[16..], depth: 0);
            }
        }
        catch (NetlinkFormatException)
        {
        }
    }

    // Treats every attribute as nested and every payload as every type, as a hostile kernel could.
    private static void WalkAsAttributes(ReadOnlySpan<byte> buffer, int depth)
    {
        try
        {
            foreach (var attribute in new NetlinkAttributeReader(buffer))
            {
                _ = attribute.GetString();
                TryRead(attribute);
                if (depth < 4) WalkAsAttributes(attribute.Payload, depth + 1);
            }
        }
        catch (NetlinkFormatException)
        {
        }
    }

    // Reads the payload as the fixed-size type its length fits (a wrong size is a unit test's job,
    // and throwing for every attribute would make this test slow for nothing).
    private static void TryRead(NetlinkAttribute attribute)
    {
        switch (attribute.Payload.Length)
        {
            case 1: attribute.GetByte(); break;
            case 2: attribute.GetUInt16(); attribute.GetUInt16BigEndian(); break;
            case 4: attribute.GetUInt32(); attribute.GetInt32(); break;
        }
    }
}
