// running-config.json (SPEC §3.2): the shape the spec shows, the Proxmox SDN running-config
// form, both rule action forms, write -> read round trips, and errors that name the file.
using System.Text;
using System.Text.Json;
using Microseg.Policy;
using Xunit.Sdk;

namespace Microseg.Policy.Tests;

public sealed class SnapshotFormatTests
{
    private const string SpecSnapshot = """
        { "version": 7, "ids": {
            "app":     {"type":"group","id":"app","mark":10},
            "web":     {"type":"group","id":"web","mark":11,"parent":"app"},
            "db":      {"type":"group","id":"db","mark":20},
            "p20-11":  {"type":"rule","id":"p20-11","src":"db","dst":"web","action":"allow"},
            "vm100i0": {"type":"assignment","id":"vm100i0","vmid":100,"iface":0,"group":"web"},
            "eth1":    {"type":"bridge","id":"eth1","nodes":["node1","node2"]} } }
        """;

    private static readonly IConfigObject[] SpecObjects =
    [
        new Group("app", 10), new Group("db", 20), new Group("web", 11, "app"),
        new Rule("p20-11", "db", "web", RuleAction.Allow),
        new Assignment(100, 0, "web"),
        new Bridge("eth1", new ValueList<string>(["node1", "node2"])),
    ];

    private static string RuleJson(string action) =>
        """{"version": 2, "ids": {"p0-1": {"type": "rule", "id": "p0-1", "dst": "a", """ + action + "}}}";

    private static Snapshot Read(string json, string file = "running-config.json") =>
        SnapshotFormat.Read(Encoding.UTF8.GetBytes(json), file);

    [Fact]
    public void Reads_the_shape_spec_3_2_shows()
    {
        var snapshot = Read(SpecSnapshot);
        Assert.Equal(7, snapshot.Version);
        Assert.Equal(SpecObjects, snapshot.Config.Objects.ToArray());
        Assert.Empty(Validation.Check(snapshot.Config));
    }

    [Fact]
    public void Reads_the_microseg_key_of_a_proxmox_sdn_running_config()
    {
        var sdn = $$$"""
            { "version": 1712345678,
              "zones": {"ids": {"z1": {"type": "simple", "ipam": "pve"} } },
              "vnets": {"ids": {"v1": {"type": "vnet", "zone": "z1"} } },
              "subnets": {"ids": {"s1": {"type": "subnet"} } },
              "microseg": {{{SpecSnapshot}}} }
            """;
        var snapshot = Read(sdn, "/etc/pve/sdn/.running-config");
        Assert.Equal(7, snapshot.Version);
        Assert.Equal(SpecObjects, snapshot.Config.Objects.ToArray());
    }

    [Theory]
    [InlineData("\"action\": \"allow\"", RuleAction.Allow)]
    [InlineData("\"action\": \"deny\"", RuleAction.Deny)]
    [InlineData("\"allow\": 1", RuleAction.Allow)]
    [InlineData("\"allow\": 0", RuleAction.Deny)]
    [InlineData("\"allow\": \"1\"", RuleAction.Allow)]
    [InlineData("\"allow\": \"0\"", RuleAction.Deny)]
    public void Rule_action_in_either_form(string action, RuleAction expected)
    {
        var snapshot = Read(RuleJson(action));
        Assert.Equal(new Rule("p0-1", null, "a", expected), snapshot.Config.Rules["p0-1"]);
    }

    [Theory]
    [InlineData("\"allow\": 2")]
    [InlineData("\"allow\": \"yes\"")]
    [InlineData("\"action\": \"permit\"")]
    [InlineData("\"action\": 1")]
    [InlineData("\"action\": \"allow\", \"allow\": 1")]
    [InlineData("\"comment\": \"no action\"")]
    public void Bad_rule_action_names_file_and_rule(string action)
    {
        var e = Assert.Throws<ConfigException>(() =>
            Read(RuleJson(action)));
        Assert.Contains("running-config.json", e.Message);
        Assert.Contains("p0-1", e.Message);
    }

    [Fact]
    public void Spec_snapshot_is_written_and_read_back_unchanged()
    {
        var snapshot = Read(SpecSnapshot);
        var bytes = SnapshotFormat.Write(snapshot);
        var again = SnapshotFormat.Read(bytes, "running-config.json");
        Assert.Equal(7, again.Version);
        ModelAssert.SameObjects(snapshot.Config, again.Config);
        Assert.Equal(bytes, SnapshotFormat.Write(again));
    }

    [Fact]
    public void Written_snapshot_has_the_spec_shape()
    {
        var bytes = SnapshotFormat.Write(new Snapshot(3, Examples.WorkedExample));
        using var doc = JsonDocument.Parse(bytes);
        Assert.Equal(3, doc.RootElement.GetProperty("version").GetInt64());
        var ids = doc.RootElement.GetProperty("ids");
        Assert.Equal(["db", "web", "wiki", "wol", "p10-20", "p20-10", "p20-12", "vm100i0", "vm101i0", "vm200i1"],
            ids.EnumerateObject().Select(p => p.Name));
        var wiki = ids.GetProperty("wiki");
        Assert.Equal("group", wiki.GetProperty("type").GetString());
        Assert.Equal("wiki", wiki.GetProperty("id").GetString());
        Assert.Equal(11, wiki.GetProperty("mark").GetInt32());
        Assert.Equal("web", wiki.GetProperty("parent").GetString());
        var rule = ids.GetProperty("p20-12");
        Assert.Equal("rule", rule.GetProperty("type").GetString());
        Assert.Equal("db", rule.GetProperty("src").GetString());
        Assert.Equal("wol", rule.GetProperty("dst").GetString());
        Assert.Equal("deny", rule.GetProperty("action").GetString());
        var nic = ids.GetProperty("vm200i1");
        Assert.Equal(200, nic.GetProperty("vmid").GetInt64());
        Assert.Equal(1, nic.GetProperty("iface").GetInt64());
        Assert.Equal("db", nic.GetProperty("group").GetString());
    }

    [Fact]
    public void Random_configs_round_trip_through_the_snapshot()
    {
        const int seed = 9001;
        for (int i = 0; i < 1000; i++)
        {
            var rng = new Random(seed + i);
            var config = RandomConfigs.Any(rng, withComments: false);
            var version = rng.NextInt64(0, long.MaxValue);
            var bytes = SnapshotFormat.Write(new Snapshot(version, config));
            try
            {
                var read = SnapshotFormat.Read(bytes, "running-config.json");
                Assert.Equal(version, read.Version);
                ModelAssert.SameObjects(config, read.Config);
                Assert.Equal(bytes, SnapshotFormat.Write(read));
            }
            catch (Exception e)
            {
                throw new XunitException($"seed {seed + i}: snapshot does not round-trip:\n{Encoding.UTF8.GetString(bytes)}", e);
            }
        }
    }

    [Theory]
    [InlineData("{\"version\": 1, \"ids\": {")]
    [InlineData("{\"version\": 1,, \"ids\": {}}")]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"version\": 1} trailing")]
    public void Broken_json_names_the_file(string json)
    {
        var e = Assert.Throws<ConfigException>(() => Read(json, "/etc/microseg/running-config.json"));
        Assert.Contains("/etc/microseg/running-config.json", e.Message);
        Assert.Contains("JSON", e.Message);
    }

    [Theory]
    [InlineData("[]", "expected a JSON object")]
    [InlineData("{\"microseg\": 5}", "microseg")]
    [InlineData("{\"version\": \"seven\", \"ids\": {}}", "version")]
    [InlineData("{\"version\": 1, \"ids\": []}", "ids")]
    [InlineData("{\"version\": 1, \"ids\": {\"x\": 5}}", "ids.x")]
    [InlineData("{\"version\": 1, \"ids\": {\"x\": {\"type\": \"zone\", \"id\": \"x\"}}}", "ids.x")]
    [InlineData("{\"version\": 1, \"ids\": {\"x\": {\"type\": \"group\", \"id\": \"y\"}}}", "ids.x")]
    [InlineData("{\"version\": 1, \"ids\": {\"x\": {\"type\": \"group\", \"id\": \"x\", \"mark\": \"ten\"}}}", "ids.x")]
    [InlineData("{\"version\": 1, \"ids\": {\"vm1i0\": {\"type\": \"assignment\", \"id\": \"vm1i0\", \"vmid\": 100, \"iface\": 0, \"group\": \"a\"}}}", "vm100i0")]
    [InlineData("{\"version\": 1, \"ids\": {\"b\": {\"type\": \"bridge\", \"id\": \"b\", \"nodes\": [1, 2]}}}", "ids.b")]
    public void Wrong_shapes_name_the_file_and_the_object(string json, string fragment)
    {
        var e = Assert.Throws<ConfigException>(() => Read(json, "snap.json"));
        Assert.Contains("snap.json", e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Deeply_nested_json_is_an_error_not_a_crash()
    {
        var json = "{\"ids\": " + new string('[', 10_000) + new string(']', 10_000) + "}";
        var e = Assert.Throws<ConfigException>(() => Read(json, "deep.json"));
        Assert.Contains("deep.json", e.Message);
    }

    [Theory]
    [InlineData("{\"version\": 1, \"ids\": {\"a\": {\"type\": \"group\", \"id\": \"a\", \"comment\": \"\\ud800\"}}}")]
    [InlineData("{\"version\": 1, \"ids\": {\"a\\udc00\": {\"type\": \"group\", \"id\": \"a\"}}}")]
    public void Lone_surrogate_escape_is_a_config_error_naming_the_file(string json)
    {
        // Valid JSON syntax, but no string: the agent must see "invalid snapshot", not crash.
        var e = Assert.Throws<ConfigException>(() => Read(json, "surrogate.json"));
        Assert.Contains("surrogate.json", e.Message);
    }

    public static TheoryData<string> WrongKinds => ["\"text\"", "\"12\"", "-1", "1.5", "1e300", "null", "true", "[]", "[1]", "{}", "{\"a\": 1}"];

    /// <summary>The SPEC snapshot with one value (the version, the ids object, an object, or one
    /// field of one object) replaced by a value of another kind. Each either reads or is a
    /// ConfigException naming the file; nothing else gets out.</summary>
    [Theory]
    [MemberData(nameof(WrongKinds))]
    public void Every_value_of_the_wrong_kind_is_a_config_error_or_read(string replacement)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(SpecSnapshot)!.AsObject();
        var paths = new List<string[]> { new[] { "version" }, new[] { "ids" } };
        foreach (var (id, obj) in root["ids"]!.AsObject())
        {
            paths.Add([ "ids", id ]);
            foreach (var (field, _) in obj!.AsObject()) paths.Add([ "ids", id, field ]);
            paths.Add([ "ids", id, "allow" ]);
        }
        var failures = new List<string>();
        foreach (var path in paths)
        {
            var doc = System.Text.Json.Nodes.JsonNode.Parse(SpecSnapshot)!.AsObject();
            var parent = doc;
            foreach (var step in path[..^1]) parent = parent[step]!.AsObject();
            parent[path[^1]] = System.Text.Json.Nodes.JsonNode.Parse(replacement);
            var json = doc.ToJsonString();
            try { Read(json, "kinds.json"); }
            catch (ConfigException e) { Assert.Contains("kinds.json", e.Message); }
            catch (Exception e)
            {
                failures.Add($"{string.Join(".", path)} = {replacement}: {e.GetType().Name} ({e.Message}) instead of ConfigException");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Random_bytes_give_config_exceptions_only()
    {
        var rng = new Random(5150);
        var sample = SnapshotFormat.Write(new Snapshot(1, Examples.WorkedExample));
        for (int i = 0; i < 3000; i++)
        {
            byte[] bytes;
            if (i % 2 == 0) { bytes = new byte[rng.Next(0, 200)]; rng.NextBytes(bytes); }
            else
            {
                bytes = sample[..rng.Next(sample.Length + 1)];
                if (bytes.Length > 0) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            }
            try { SnapshotFormat.Read(bytes, "fuzz.json"); }
            catch (ConfigException) { }
        }
    }
}
