// Services and group switches on the command line: `rule add --proto --dport`, ids derived
// from the service, `group add|set --stateful|--infra|--audit`, `explain --proto --dport` and
// its per-service listing, `matrix` marking partial pairs; bad values refused naming the option.
using Microseg.Policy;

namespace Microseg.Cli.Tests;

public sealed class ServiceCommandTests : IDisposable
{
    private readonly ConfigDir dir = new();

    public ServiceCommandTests()
    {
        dir.Ok("group", "add", "tier", "--mark", "30");
        dir.Ok("group", "add", "web", "--mark", "10", "--parent", "tier");
        dir.Ok("group", "add", "app", "--mark", "11", "--parent", "tier");
        dir.Ok("group", "add", "db", "--mark", "20");
    }

    public void Dispose() => dir.Dispose();

    /// <summary>The services example: web -> db allow tcp/5432, web -> db deny, tier -> db allow.</summary>
    private void TierRules()
    {
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "tcp", "--dport", "5432", "--action", "allow");
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--action", "deny");
        dir.Ok("rule", "add", "--src", "tier", "--dst", "db", "--action", "allow");
    }

    [Fact]
    public void Rule_add_with_a_service_derives_the_id_and_writes_proto_and_dport()
    {
        var r = dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "tcp", "--dport", "5432", "--action", "allow");
        Assert.StartsWith("added rule p10-20-tcp5432 (web -> db tcp/5432 allow)", r.Out);
        Assert.EndsWith("rule: p10-20-tcp5432\n\tsrc web\n\tdst db\n\tproto tcp\n\tdport 5432\n\taction allow\n", dir.PendingText);

        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "udp", "--dport", "8000-8080", "--action", "deny");
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "icmp", "--action", "allow");
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "47", "--action", "allow");
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "6", "--action", "deny");
        Assert.Equal(["p10-20-47", "p10-20-icmp", "p10-20-tcp", "p10-20-tcp5432", "p10-20-udp8000-8080"], dir.Config.Rules.Keys);
        Assert.Equal(new Service(Service.Udp, new PortRange(8000, 8080)), dir.Config.Rules["p10-20-udp8000-8080"].Service);

        var lines = dir.Ok("rule", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["ID", "SRC", "DST", "SERVICE", "ACTION", "COMMENT"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["p10-20-udp8000-8080", "web", "db", "udp/8000-8080", "deny", "-"]);
        var json = dir.Ok("rule", "list", "--json").Json().GetProperty("data").EnumerateArray().First(x => x.GetProperty("id").GetString() == "p10-20-tcp5432");
        Assert.Equal(("tcp", "5432"), (json.GetProperty("proto").GetString(), json.GetProperty("dport").GetString()));
    }

    [Fact]
    public void One_rule_per_service_and_set_and_del_address_the_derived_id()
    {
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "tcp", "--dport", "5432", "--action", "allow");
        var twice = dir.Refused("rule", "add", "--src", "web", "--dst", "db", "--proto", "tcp", "--dport", "5432", "--action", "deny");
        Assert.Contains("rule 'p10-20-tcp5432' already covers web -> db tcp/5432 (use 'rule set')", twice.Err);
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--action", "deny");

        dir.Ok("rule", "set", "p10-20-tcp5432", "--action", "deny", "--comment", "closed for now");
        Assert.Equal(new Rule("p10-20-tcp5432", "web", "db", RuleAction.Deny, "closed for now", new Service(Service.Tcp, new PortRange(5432, 5432))),
            dir.Config.Rules["p10-20-tcp5432"]);
        dir.Ok("rule", "del", "p10-20-tcp5432");
        Assert.Equal(["p10-20"], dir.Config.Rules.Keys);

        // The id follows a mark change, service included.
        dir.Ok("rule", "add", "--src", "web", "--dst", "db", "--proto", "udp", "--dport", "53", "--action", "allow");
        dir.Ok("group", "set", "web", "--mark", "12");
        Assert.Equal(["p12-20", "p12-20-udp53"], dir.Config.Rules.Keys);
    }

    [Theory]
    [InlineData("microseg: --proto: unknown protocol 'gre' (use tcp, udp, sctp, icmp, icmpv6 or a protocol number 0..255); see 'microseg rule add --help'", "--proto", "gre")]
    [InlineData("microseg: --proto: protocol number 300 is out of range 0..255; see 'microseg rule add --help'", "--proto", "300")]
    [InlineData("microseg: --dport: port 70000 is out of range 1..65535; see 'microseg rule add --help'", "--proto", "tcp", "--dport", "70000")]
    [InlineData("microseg: --dport: port 0 is out of range 1..65535; see 'microseg rule add --help'", "--proto", "tcp", "--dport", "0")]
    [InlineData("microseg: --dport: port range 8080-8000 is reversed (write 8000-8080); see 'microseg rule add --help'", "--proto", "udp", "--dport", "8080-8000")]
    [InlineData("microseg: --dport: port 'https' is not a number (write '443' or '8000-8080'); see 'microseg rule add --help'", "--proto", "tcp", "--dport", "https")]
    [InlineData("microseg: --dport needs --proto tcp, udp or sctp (icmp packets have no port); see 'microseg rule add --help'", "--proto", "icmp", "--dport", "8")]
    [InlineData("microseg: --dport needs --proto tcp, udp or sctp; see 'microseg rule add --help'", "--dport", "443")]
    public void Bad_service_values_are_usage_errors_naming_the_option(string expected, params string[] service)
    {
        var before = dir.Pending;
        var r = dir.Run(["rule", "add", "--src", "web", "--dst", "db", .. service, "--action", "allow"]);
        Assert.Equal(2, r.Exit);
        Assert.Equal(expected + "\n", r.Err);
        Assert.Equal(before, dir.Pending);
    }

    [Fact]
    public void Group_switches_are_proxmox_booleans_inherited_when_unset()
    {
        dir.Ok("group", "add", "strict", "--parent", "tier", "--stateful", "0", "--infra", "1", "--audit", "1");
        Assert.Equal(new Group("strict", 1, "tier", null, Stateful: false, Infra: true, Audit: true), dir.Config.Groups["strict"]);
        Assert.Contains("group: strict\n\tmark 1\n\tparent tier\n\tstateful 0\n\tinfra 1\n\taudit 1\n", dir.PendingText);

        dir.Ok("group", "set", "strict", "--stateful", "1", "--audit", "off");
        Assert.Equal(new Group("strict", 1, "tier", null, Stateful: true, Infra: true, Audit: false), dir.Config.Groups["strict"]);
        dir.Ok("group", "set", "strict", "--delete", "stateful", "infra");
        Assert.Equal(new Group("strict", 1, "tier", null, Audit: false), dir.Config.Groups["strict"]);

        var lines = dir.Ok("group", "list").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "MARK", "PARENT", "STATEFUL", "INFRA", "AUDIT", "COMMENT"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["strict", "1", "tier", "-", "-", "0", "-"]);
        var json = dir.Ok("group", "list", "--json").Json().GetProperty("data").EnumerateArray().First(x => x.GetProperty("id").GetString() == "strict");
        Assert.Equal(0, json.GetProperty("audit").GetInt32());
        Assert.False(json.TryGetProperty("stateful", out _));
    }

    [Theory]
    [InlineData("microseg: --stateful must be 0 or 1 (got '2'); see 'microseg group add --help'", "group", "add", "x", "--stateful", "2")]
    [InlineData("microseg: --infra must be 0 or 1 (got 'maybe'); see 'microseg group set --help'", "group", "set", "web", "--infra", "maybe")]
    public void Bad_switch_values_are_usage_errors(string expected, params string[] args)
    {
        var r = dir.Run(args);
        Assert.Equal(2, r.Exit);
        Assert.Equal(expected + "\n", r.Err);
    }

    [Theory]
    [InlineData("web", "tcp", "5432", "web -> db tcp/5432: allow", "p10-20-tcp5432")]
    [InlineData("web", "tcp", "22", "web -> db tcp/22: deny", "p10-20")]
    [InlineData("web", "udp", "5432", "web -> db udp/5432: deny", "p10-20")]
    [InlineData("web", "icmp", null, "web -> db icmp: deny", "p10-20")]
    [InlineData("web", "tcp", null, "web -> db tcp (no port): deny", "p10-20")]
    [InlineData("app", "tcp", "22", "app -> db tcp/22: allow", "p30-20")]
    public void Explain_answers_for_one_packet(string src, string proto, string? dport, string first, string rule)
    {
        TierRules();
        string[] port = dport is null ? [] : ["--dport", dport];
        var r = dir.Ok(["explain", src, "db", "--proto", proto, .. port]);
        Assert.Equal(first, r.Out.Split('\n')[0]);
        var json = dir.Ok(["explain", src, "db", "--proto", proto, .. port, "--json"]).Json();
        Assert.Equal(rule, json.GetProperty("rule").GetString());
        Assert.Equal(proto, json.GetProperty("proto").GetString());
    }

    [Fact]
    public void Explain_without_a_packet_lists_the_verdict_per_service()
    {
        TierRules();
        var r = dir.Ok("explain", "web", "db");
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("web -> db: partial", lines[0]);
        Assert.Contains("other services decide otherwise", lines[1]);
        Assert.Equal("per service:", lines[2]);
        Assert.Equal(["SERVICE", "VERDICT", "RULE"], lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["tcp/5432", "allow", "p10-20-tcp5432"], lines[4].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["tcp", "(other", "ports)", "deny", "p10-20"], lines[5].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["any", "other", "packet", "deny", "p10-20"], lines[6].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("candidates", lines[7]);
        Assert.Equal(["p10-20-tcp5432", "web", "db", "tcp/5432", "allow", "0", "0"], lines[9].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        var json = dir.Ok("explain", "web", "db", "--json").Json();
        Assert.Equal(1, json.GetProperty("depends_on_service").GetInt32());
        Assert.Equal("deny", json.GetProperty("verdict").GetString());
        var per = json.GetProperty("per_service").EnumerateArray().Select(v => (v.GetProperty("proto").GetString(), v.TryGetProperty("dport", out var d) ? d.GetString() : null, v.GetProperty("verdict").GetString())).ToList();
        Assert.Equal([("tcp", "5432", "allow"), ("tcp", null, "deny")], per);

        // app's verdict does not depend on the service: one word, as before.
        Assert.Equal("app -> db: allow", dir.Ok("explain", "app", "db").Out.Split('\n')[0]);
    }

    [Theory]
    [InlineData("microseg: --dport: give one port, not a range (got '1-10'); see 'microseg explain --help'", "--proto", "tcp", "--dport", "1-10")]
    [InlineData("microseg: --dport needs --proto tcp, udp or sctp (icmpv6 packets have no port); see 'microseg explain --help'", "--proto", "icmpv6", "--dport", "1")]
    [InlineData("microseg: --proto: unknown protocol 'http' (use tcp, udp, sctp, icmp, icmpv6 or a protocol number 0..255); see 'microseg explain --help'", "--proto", "http")]
    public void Explain_refuses_a_packet_it_cannot_be(string expected, params string[] packet)
    {
        var r = dir.Run(["explain", "web", "db", .. packet]);
        Assert.Equal(2, r.Exit);
        Assert.Equal(expected + "\n", r.Err);
    }

    [Fact]
    public void Matrix_marks_partial_pairs_and_lists_why()
    {
        TierRules();
        var lines = dir.Ok("matrix").Out.Split('\n');
        Assert.Equal(["SRC", "\\", "DST", "app", "db", "tier", "web"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["web", "deny", "partial", "deny", "deny"], lines.First(l => l.StartsWith("web ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["app", "deny", "allow", "deny", "deny"], lines.First(l => l.StartsWith("app ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("partial (the verdict depends on the service):", lines);
        Assert.Contains("  web -> db: tcp/5432 allow, tcp (other ports) deny, other deny", lines);

        var cells = dir.Ok("matrix", "--json").Json().GetProperty("matrix").EnumerateArray().ToList();
        var web = cells.Single(c => c.GetProperty("src").GetString() == "web" && c.GetProperty("dst").GetString() == "db");
        Assert.Equal(1, web.GetProperty("partial").GetInt32());
        Assert.Equal(2, web.GetProperty("per_service").GetArrayLength());
        Assert.Equal(1, cells.Count(c => c.GetProperty("partial").GetInt32() == 1));
    }
}
