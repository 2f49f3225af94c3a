// Rules with a service (proto, dport) in the file, the snapshot and validation: derived ids,
// errors that name the line and the field, one rule per (src, dst, service).
using System.Text;
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Policy.Tests;

public sealed class ServiceRuleTests
{
    private const string Groups = "group: db\n\tmark 20\n\ngroup: web\n\tmark 10\n\n";

    private static PolicyConfig Parse(string text) => SectionConfig.Parse(text, "t.cfg");

    private static string RuleText(string id, string props) => Groups + $"rule: {id}\n\tsrc web\n\tdst db\n{props}\taction allow\n";

    [Theory]
    [InlineData("p10-20-tcp5432", "\tproto tcp\n\tdport 5432\n", Service.Tcp, 5432, 5432)]
    [InlineData("p10-20-udp8000-8080", "\tproto udp\n\tdport 8000-8080\n", Service.Udp, 8000, 8080)]
    [InlineData("p10-20-sctp1-65535", "\tproto sctp\n\tdport 1-65535\n", Service.Sctp, 1, 65535)]
    [InlineData("p10-20-icmp", "\tproto icmp\n", Service.Icmp, -1, -1)]
    [InlineData("p10-20-icmpv6", "\tproto icmpv6\n", Service.Icmpv6, -1, -1)]
    [InlineData("p10-20-47", "\tproto 47\n", 47, -1, -1)]
    [InlineData("p10-20-tcp", "\tproto 6\n", Service.Tcp, -1, -1)]
    [InlineData("p10-20-tcp22", "\tproto tcp\n\tdport 22-22\n", Service.Tcp, 22, 22)]
    public void A_service_parses_and_its_id_derives_from_it(string id, string props, int proto, int lo, int hi)
    {
        var config = Parse(RuleText(id, props));
        var rule = Assert.Single(config.Rules.Values);
        var expected = new Service((byte)proto, lo < 0 ? null : new PortRange((ushort)lo, (ushort)hi));
        Assert.Equal(expected, rule.Service);
        Assert.Equal(id, config.DerivedRuleId(rule.Key));
        Assert.Empty(Validation.Check(config));
    }

    [Fact]
    public void The_file_is_written_in_one_form_and_an_unchanged_model_byte_identically()
    {
        var config = Parse(Groups.Replace("\tmark 10\n", "\tmark 10\n\tstateful 0\n\tinfra 1\n\taudit 1\n") +
            "rule: p10-20-tcp5432\n\tsrc web\n\tdst db\n\tdport 5432\n\tproto 6\n\taction allow\n\n" +
            "rule: p10-20-udp8000-8080\n\tsrc web\n\tdst db\n\tproto udp\n\tdport 8000-8080\n\tallow 0\n");
        var written = SectionConfig.Write(config);
        Assert.Equal(
            "group: db\n\tmark 20\n\ngroup: web\n\tmark 10\n\tstateful 0\n\tinfra 1\n\taudit 1\n\n" +
            "rule: p10-20-tcp5432\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport 5432\n\taction allow\n\n" +
            "rule: p10-20-udp8000-8080\n\tsrc web\n\tdst db\n\tproto udp\n\tdport 8000-8080\n\taction deny\n",
            written);
        var again = Parse(written);
        ModelAssert.SameModel(config, again);
        Assert.Equal(written, SectionConfig.Write(again));
        Assert.Equal(Encoding.UTF8.GetBytes(written), SectionConfig.WriteBytes(again));
    }

    [Theory]
    [InlineData("\tproto gre\n", "t.cfg:10", "proto", "unknown protocol 'gre' (use tcp, udp, sctp, icmp, icmpv6 or a protocol number 0..255)")]
    [InlineData("\tproto 256\n", "t.cfg:10", "proto", "protocol number 256 is out of range 0..255")]
    [InlineData("\tproto TCP\n", "t.cfg:10", "proto", "unknown protocol 'TCP' (use tcp, udp, sctp, icmp, icmpv6 or a protocol number 0..255)")]
    [InlineData("\tproto tcp\n\tdport 0\n", "t.cfg:11", "dport", "port 0 is out of range 1..65535")]
    [InlineData("\tproto tcp\n\tdport 65536\n", "t.cfg:11", "dport", "port 65536 is out of range 1..65535")]
    [InlineData("\tproto tcp\n\tdport 99999999999\n", "t.cfg:11", "dport", "port 99999999999 is out of range 1..65535")]
    [InlineData("\tproto tcp\n\tdport 8080-8000\n", "t.cfg:11", "dport", "port range 8080-8000 is reversed (write 8000-8080)")]
    [InlineData("\tproto tcp\n\tdport 8000-\n", "t.cfg:11", "dport", "port range '8000-' is empty at one end (write '443' or '8000-8080')")]
    [InlineData("\tproto tcp\n\tdport http\n", "t.cfg:11", "dport", "port 'http' is not a number (write '443' or '8000-8080')")]
    [InlineData("\tproto tcp\n\tdport 1-2-3\n", "t.cfg:11", "dport", "port '2-3' is not a number (write '443' or '8000-8080')")]
    [InlineData("\tdport 443\n", "t.cfg:10", "dport", "dport needs a protocol with ports: give proto tcp, udp or sctp")]
    [InlineData("\tproto icmp\n\tdport 8\n", "t.cfg:11", "dport", "dport needs a protocol with ports (tcp, udp or sctp), not icmp")]
    [InlineData("\tproto 47\n\tdport 8\n", "t.cfg:11", "dport", "dport needs a protocol with ports (tcp, udp or sctp), not 47")]
    public void A_bad_service_is_an_error_naming_the_line_and_the_field(string props, string where, string field, string message)
    {
        var e = Assert.Throws<ConfigException>(() => Parse(RuleText("p10-20-x", props)));
        var p = Assert.Single(e.Problems);
        Assert.Equal(where, p.Where);
        Assert.Equal("rule 'p10-20-x'", p.ObjectRef);
        Assert.Equal(field, p.Field);
        Assert.Equal(message, p.Message);
    }

    [Fact]
    public void One_rule_per_src_dst_and_service_but_services_may_differ()
    {
        var ok = Parse(Groups +
            "rule: p10-20\n\tsrc web\n\tdst db\n\taction deny\n\n" +
            "rule: p10-20-tcp\n\tsrc web\n\tdst db\n\tproto tcp\n\taction deny\n\n" +
            "rule: p10-20-tcp5432\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport 5432\n\taction allow\n\n" +
            "rule: p10-20-tcp5000-6000\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport 5000-6000\n\taction deny\n");
        Assert.Empty(Validation.Check(ok));

        // The same service under a second id: only a hand-edited (damaged) file has it.
        var twice = ok.Put(new Rule("p10-20-tcp5432x", "web", "db", RuleAction.Deny, null, new Service(Service.Tcp, new PortRange(5432, 5432))));
        var problems = Validation.Check(twice);
        Assert.Contains(problems, p => p.ObjectRef == "rule 'p10-20-tcp5432x'" && p.Message == "rule 'p10-20-tcp5432' already covers web -> db tcp/5432");
        Assert.Contains(problems, p => p.ObjectRef == "rule 'p10-20-tcp5432x'" && p.Field is null &&
            p.Message.StartsWith("id 'p10-20-tcp5432x' does not match the derived id 'p10-20-tcp5432'", StringComparison.Ordinal));
    }

    [Fact]
    public void An_id_that_differs_from_the_derived_one_names_both()
    {
        var config = Parse(RuleText("p10-20-tcp80", "\tproto tcp\n\tdport 443\n"));
        var p = Assert.Single(Validation.Check(config));
        Assert.Equal("t.cfg:7", p.Where);
        Assert.StartsWith("id 'p10-20-tcp80' does not match the derived id 'p10-20-tcp443'", p.Message);
    }

    [Fact]
    public void Validation_refuses_a_service_built_in_code_that_the_file_could_not_hold()
    {
        var config = PolicyConfig.Create([new Group("db", 20), new Group("web", 10)],
        [
            new Rule("p10-20-icmp8", "web", "db", RuleAction.Allow, null, new Service(Service.Icmp, new PortRange(8, 8))),
            new Rule("p10-20-tcp90-80", "web", "db", RuleAction.Allow, null, new Service(Service.Tcp, new PortRange(90, 80))),
            new Rule("p10-20-udp0", "web", "db", RuleAction.Allow, null, new Service(Service.Udp, new PortRange(0, 0))),
        ]);
        var problems = Validation.Check(config).Select(p => (p.ObjectRef, p.Field, p.Message)).ToList();
        Assert.Contains(("rule 'p10-20-icmp8'", "dport", "dport needs a protocol with ports (tcp, udp or sctp), not icmp"), problems);
        Assert.Contains(("rule 'p10-20-tcp90-80'", "dport", "port range 90-80 is reversed (write 80-90)"), problems);
        Assert.Contains(("rule 'p10-20-udp0'", "dport", "port 0 is out of range 1..65535"), problems);
    }

    [Fact]
    public void A_mark_change_rederives_the_ids_of_service_rules()
    {
        var config = Parse(RuleText("p10-20-tcp5432", "\tproto tcp\n\tdport 5432\n"));
        var (edited, _) = ConfigEdits.UpdateGroup(config, "web", 11, null, null, new HashSet<string>());
        Assert.Equal(["p11-20-tcp5432"], edited.Rules.Keys);
    }

    [Fact]
    public void The_snapshot_holds_services_and_switches_and_reads_them_back()
    {
        var config = Parse(Groups.Replace("\tmark 10\n", "\tmark 10\n\tstateful 0\n\taudit 1\n") +
            "rule: p10-20-47\n\tsrc web\n\tdst db\n\tproto 47\n\taction allow\n\n" +
            "rule: p10-20-tcp5432\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport 5432\n\taction allow\n\n" +
            "rule: p10-20-udp8000-8080\n\tsrc web\n\tdst db\n\tproto udp\n\tdport 8000-8080\n\taction deny\n");
        var bytes = SnapshotFormat.Write(new Snapshot(3, config));
        using var doc = JsonDocument.Parse(bytes);
        var ids = doc.RootElement.GetProperty("ids");
        Assert.Equal("""{"type":"group","id":"web","mark":10,"stateful":0,"audit":1}""", Compact(ids.GetProperty("web")));
        Assert.Equal("""{"type":"group","id":"db","mark":20}""", Compact(ids.GetProperty("db")));
        Assert.Equal("""{"type":"rule","id":"p10-20-tcp5432","src":"web","dst":"db","proto":"tcp","dport":"5432","action":"allow"}""", Compact(ids.GetProperty("p10-20-tcp5432")));
        Assert.Equal("""{"type":"rule","id":"p10-20-udp8000-8080","src":"web","dst":"db","proto":"udp","dport":"8000-8080","action":"deny"}""", Compact(ids.GetProperty("p10-20-udp8000-8080")));
        Assert.Equal("""{"type":"rule","id":"p10-20-47","src":"web","dst":"db","proto":"47","action":"allow"}""", Compact(ids.GetProperty("p10-20-47")));
        var read = SnapshotFormat.Read(bytes, "running-config.json");
        ModelAssert.SameModel(config, read.Config);
        Assert.Equal(bytes, SnapshotFormat.Write(read));
    }

    [Fact]
    public void The_snapshot_reads_numbers_and_proxmox_booleans_and_names_bad_values()
    {
        const string json = """
            {"version":1,"ids":{
              "web":{"type":"group","id":"web","mark":10,"stateful":"0","infra":false,"audit":true},
              "p10-10-tcp22":{"type":"rule","id":"p10-10-tcp22","src":"web","dst":"web","proto":6,"dport":22,"allow":1}}}
            """;
        var config = SnapshotFormat.Read(Encoding.UTF8.GetBytes(json), "rc.json").Config;
        Assert.Equal(new Group("web", 10, Stateful: false, Infra: false, Audit: true), config.Groups["web"]);
        Assert.Equal(new Service(Service.Tcp, new PortRange(22, 22)), config.Rules["p10-10-tcp22"].Service);

        const string bad = """
            {"version":1,"ids":{
              "web":{"type":"group","id":"web","mark":10,"stateful":2},
              "p10-10-icmp":{"type":"rule","id":"p10-10-icmp","dst":"web","proto":"icmp","dport":"7","action":"allow"}}}
            """;
        var e = Assert.Throws<ConfigException>(() => SnapshotFormat.Read(Encoding.UTF8.GetBytes(bad), "rc.json"));
        Assert.Contains(e.Problems, p => p.ObjectRef == "ids.web" && p.Message == "'stateful' is not 0 or 1");
        Assert.Contains(e.Problems, p => p.ObjectRef == "ids.p10-10-icmp" && p.Message == "'dport': dport needs a protocol with ports (tcp, udp or sctp), not icmp");
    }

    private static string Compact(JsonElement e) => JsonSerializer.Serialize(e);

    [Theory]
    [InlineData("stateful 2", "stateful", "stateful '2' is not 0 or 1")]
    [InlineData("infra maybe", "infra", "infra 'maybe' is not 0 or 1")]
    public void A_bad_switch_is_an_error_naming_the_line(string prop, string field, string message)
    {
        var e = Assert.Throws<ConfigException>(() => Parse($"group: web\n\tmark 10\n\t{prop}\n"));
        var p = Assert.Single(e.Problems);
        Assert.Equal(("t.cfg:3", field, message), (p.Where, p.Field, p.Message));
    }
}
