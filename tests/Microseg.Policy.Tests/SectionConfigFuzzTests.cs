// Malformed and hostile microseg.cfg input never crashes or hangs the parser: the only
// exception out of Parse is ConfigException, and whatever it accepts it writes back so that it
// reads the same again.
using System.Text;
using Microseg.Policy;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class SectionConfigFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    // Valid, with comments, every type and non-ASCII text, so truncations split UTF-8 sequences.
    private const string Rich =
        "# Richtlinie für café ✓\n" +
        "group: app\n\tmark 10\n\tcomment Anwendungsschicht — 日本\n\n" +
        "group: web\n\tmark 11\n\tparent app\n\n" +
        "rule: p0-11\n\tdst web\n\tallow 1\n\n" +
        "rule: p10-11\n\tsrc app\n\tdst web\n\taction deny\n\tcomment 🙂 emoji\n\n" +
        "assignment: vm100i0\n\tvmid 100\n\tiface 0\n\tgroup web\n\n" +
        "bridge: eth1\n\tnodes node1, node2\n\n" +
        "forwarder: fw0\n\trouter eth9\n\tphysical *\n\tmode native\n\n" +
        "# trailing\n";

    /// <summary>Parses; a ConfigException is a fine answer, any other exception fails the test.
    /// When the input is accepted, write -> parse must give the same model.</summary>
    private static bool ParseSafely(byte[] bytes)
    {
        PolicyConfig config;
        try { config = SectionConfig.Parse(bytes, "fuzz.cfg"); }
        catch (ConfigException) { return false; }
        var written = SectionConfig.WriteBytes(config);
        var again = SectionConfig.Parse(written, "fuzz.cfg");
        ModelAssert.SameModel(config, again);
        Assert.Equal(written, SectionConfig.WriteBytes(again));
        return true;
    }

    private static void Check(byte[] bytes, string what)
    {
        try { ParseSafely(bytes); }
        catch (Exception e)
        {
            throw new XunitException($"{what}: input {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 2000)))}", e);
        }
    }

    [Fact]
    public void Rich_sample_itself_is_valid()
    {
        Assert.True(ParseSafely(Encoding.UTF8.GetBytes(Rich)));
        Assert.Empty(Validation.Check(SectionConfig.Parse(Rich, "rich.cfg")));
    }

    [Fact]
    public async Task Random_bytes()
    {
        await Task.Run(() =>
        {
            const int seed = 777;
            var rng = new Random(seed);
            byte[] alphabet = Encoding.UTF8.GetBytes("group: rule assignment bridge forwarder \t\n\r#,:mark src dst 0123456789 allow deny é");
            for (int i = 0; i < 5000; i++)
            {
                var bytes = new byte[rng.Next(0, 300)];
                if (i % 2 == 0) rng.NextBytes(bytes);
                else for (int k = 0; k < bytes.Length; k++) bytes[k] = alphabet[rng.Next(alphabet.Length)];
                Check(bytes, $"random bytes #{i} (seed {seed})");
            }
        }).WaitAsync(Limit);
    }

    [Fact]
    public async Task Every_truncation_of_valid_files()
    {
        await Task.Run(() =>
        {
            foreach (var (name, bytes) in new[] { ("rich", Encoding.UTF8.GetBytes(Rich)), ("example", Examples.WorkedExampleBytes) })
            {
                int accepted = 0;
                for (int len = 0; len <= bytes.Length; len++)
                {
                    Check(bytes[..len], $"{name} truncated to {len} bytes");
                    // And the same as text, as the API hands it over.
                    try { SectionConfig.Parse(Encoding.UTF8.GetString(bytes, 0, len), "fuzz.cfg"); accepted++; }
                    catch (ConfigException) { }
                }
                Assert.True(accepted > 0);
            }
        }).WaitAsync(Limit);
    }

    [Fact]
    public async Task Random_mutations_of_valid_files()
    {
        const int seed = 31337;
        output.WriteLine($"seed {seed}");
        int accepted = 0;
        await Task.Run(() =>
        {
            var rng = new Random(seed);
            byte[] interesting = Encoding.UTF8.GetBytes("\t\n\r :#,-01 9az");
            var sources = new[] { Encoding.UTF8.GetBytes(Rich), Examples.WorkedExampleBytes };
            for (int i = 0; i < 5000; i++)
            {
                var bytes = sources[i % 2].ToList();
                for (int m = rng.Next(1, i % 3 == 0 ? 9 : 3); m > 0 && bytes.Count > 0; m--)
                {
                    int at = rng.Next(bytes.Count);
                    switch (rng.Next(6))
                    {
                        case 0: bytes[at] = (byte)rng.Next(256); break;
                        case 1: bytes.Insert(at, interesting[rng.Next(interesting.Length)]); break;
                        case 2: bytes.RemoveAt(at); break;
                        case 3: bytes[at] ^= (byte)(1 << rng.Next(8)); break;
                        case 4:
                        {
                            // Duplicate a run of bytes (a line, a section) somewhere else.
                            int len = Math.Min(rng.Next(1, 40), bytes.Count - at);
                            bytes.InsertRange(rng.Next(bytes.Count), bytes.GetRange(at, len));
                            break;
                        }
                        default:
                        {
                            int len = Math.Min(rng.Next(1, 40), bytes.Count - at);
                            bytes.RemoveRange(at, len);
                            break;
                        }
                    }
                }
                var mutated = bytes.ToArray();
                Check(mutated, $"mutation #{i} (seed {seed})");
                try { SectionConfig.Parse(mutated, "m.cfg"); accepted++; } catch (ConfigException) { }
            }
        }).WaitAsync(Limit);
        output.WriteLine($"{accepted} of 5000 mutations parsed");
    }

    [Theory]
    [InlineData("group: {0}\n\tmark 1\n", true)]          // a 10 MB id
    [InlineData("group: a\n\tcomment {0}\n", false)]       // a 10 MB value (comments are capped at 4096 bytes)
    [InlineData("# {0}\ngroup: a\n", true)]                // a 10 MB comment
    [InlineData("{0}\n", false)]                           // a 10 MB line that is no header
    [InlineData("group: a\n\t{0} 1\n", false)]             // a 10 MB key
    [InlineData("group: a\n\tmark {0}\n", false)]          // a 10 MB number
    [InlineData("group: a {0}\n", false)]                  // a header with a 10 MB second word
    public async Task Ten_megabyte_line(string template, bool valid)
    {
        var huge = new string('7', 10 * 1024 * 1024);
        var bytes = Encoding.UTF8.GetBytes(string.Format(template, huge));
        var result = await Task.Run<(PolicyConfig? Config, ConfigException? Error)>(() =>
        {
            try { return (SectionConfig.Parse(bytes, "big.cfg"), null); }
            catch (ConfigException e) { return (null, e); }
        }).WaitAsync(Limit);
        Assert.Equal(valid, result.Config is not null);
        // Errors quote user text clipped: a 10 MB line must not make a 10 MB message.
        if (result.Error is { } error) Assert.True(error.Message.Length < 1000, $"message of {error.Message.Length} chars");
    }

    [Fact]
    public async Task Hundred_thousand_sections()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 100_000; i++)
            sb.Append("group: g").Append(i).Append("\n\tmark ").Append(i % 65535 + 1).Append("\n\tparent g").Append(i / 2).Append("\n\n");
        for (int i = 0; i < 100_000; i++)
            sb.Append("assignment: vm").Append(100 + i).Append("i0\n\tvmid ").Append(100 + i).Append("\n\tiface 0\n\tgroup g").Append(i).Append("\n\n");
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        var config = await Task.Run(() => SectionConfig.Parse(bytes, "big.cfg")).WaitAsync(Limit);
        Assert.Equal(100_000, config.Groups.Count);
        Assert.Equal(100_000, config.Assignments.Count);
        // Writing and validating that many objects finishes too.
        var problems = await Task.Run(() => { SectionConfig.WriteBytes(config); return Validation.Check(config); }).WaitAsync(Limit);
        Assert.Contains(problems, p => p.Message.Contains("parent cycle"));  // g0 is its own parent
    }

    [Fact]
    public async Task Hundred_thousand_duplicate_sections_are_each_reported()
    {
        var bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("group: same\n\tmark 1\n\n", 100_000)));
        var error = await Task.Run(() => Assert.Throws<ConfigException>(() => SectionConfig.Parse(bytes, "dup.cfg"))).WaitAsync(Limit);
        Assert.Equal(99_999, error.Problems.Count);
        Assert.Equal("dup.cfg:4", error.Problems[0].Where);
    }

    [Fact]
    public async Task Deep_parent_chain_of_hundred_thousand_groups_validates_without_hanging()
    {
        var groups = Enumerable.Range(0, 100_000).Select(i => new Group($"g{i}", i % 65535 + 1, i == 0 ? null : $"g{i - 1}"));
        var config = PolicyConfig.Create(groups);
        var problems = await Task.Run(() => Validation.Check(config)).WaitAsync(Limit);
        Assert.DoesNotContain(problems, p => p.Message.Contains("cycle"));
    }
}
