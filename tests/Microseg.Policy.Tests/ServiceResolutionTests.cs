// Resolution with services: the closest group pair decides first, then the most specific
// service; a tie denies. The compiled words and service entries say the same as Explain.
using Microseg.Policy;

namespace Microseg.Policy.Tests;

public sealed class ServiceResolutionTests
{
    private static readonly Service Tcp5432 = new(Service.Tcp, new PortRange(5432, 5432));

    // The services example: tier 30 (children web 10, app 11), db 20.
    //   web -> db  allow tcp/5432   (0,0,0)
    //   web -> db  deny             (0,0,2)
    //   tier -> db allow            (0,1,2)
    private static PolicyConfig TierExample() => PolicyConfig.Create(
        [new Group("tier", 30), new Group("web", 10, "tier"), new Group("app", 11, "tier"), new Group("db", 20)],
        [
            new Rule("p10-20-tcp5432", "web", "db", RuleAction.Allow, null, Tcp5432),
            new Rule("p10-20", "web", "db", RuleAction.Deny),
            new Rule("p30-20", "tier", "db", RuleAction.Allow),
        ]);

    [Fact]
    public void The_example_config_is_valid()
    {
        Assert.Empty(Validation.Check(TierExample()));
    }

    [Theory]
    [InlineData("web", Service.Tcp, 5432, RuleAction.Allow, "p10-20-tcp5432")]
    [InlineData("web", Service.Tcp, 22, RuleAction.Deny, "p10-20")]
    [InlineData("web", Service.Tcp, 5433, RuleAction.Deny, "p10-20")]
    [InlineData("web", Service.Udp, 5432, RuleAction.Deny, "p10-20")]
    [InlineData("web", Service.Icmp, -1, RuleAction.Deny, "p10-20")]
    [InlineData("web", Service.Tcp, -1, RuleAction.Deny, "p10-20")] // a later fragment: no port
    [InlineData("app", Service.Tcp, 5432, RuleAction.Allow, "p30-20")]
    [InlineData("app", Service.Udp, 53, RuleAction.Allow, "p30-20")]
    [InlineData("tier", Service.Tcp, 22, RuleAction.Allow, "p30-20")]
    public void The_closest_group_pair_decides_then_the_most_specific_service(string src, int proto, int port, RuleAction verdict, string rule)
    {
        var engine = new PolicyEngine(TierExample());
        var packet = new Packet((byte)proto, port < 0 ? null : (ushort)port);
        var e = engine.Explain(src, "db", packet);
        Assert.Equal((verdict, rule), (e.Verdict, e.Rule?.Id));
        Assert.Equal(packet, e.Packet);
        Assert.All(e.Candidates, c => Assert.True(c.Rule.Service?.Matches(packet) ?? true, $"{c.Rule.Id} does not match {packet}"));
        Assert.Equal(verdict, ResolutionOracle.Verdict(TierExample(), src, "db", packet));
    }

    [Fact]
    public void Without_a_packet_explain_gives_the_no_service_verdict_and_lists_each_service()
    {
        var engine = new PolicyEngine(TierExample());
        var e = engine.Explain("web", "db");
        Assert.Equal((RuleAction.Deny, "p10-20"), (e.Verdict, e.Rule?.Id));
        Assert.True(e.DependsOnService);
        Assert.Equal(
            [(0, 0, 0, "p10-20-tcp5432"), (0, 0, 2, "p10-20"), (0, 1, 2, "p30-20")],
            e.Candidates.Select(c => (c.DstDistance, c.SrcDistance, c.Specificity, c.Rule.Id)));
        Assert.Equal(
            [
                new ServiceVerdict(Tcp5432, RuleAction.Allow, engine.Explain("web", "db", new Packet(Service.Tcp, 5432)).Rule),
                new ServiceVerdict(new Service(Service.Tcp), RuleAction.Deny, e.Rule),
            ],
            e.PerService);

        var app = engine.Explain("app", "db");
        Assert.False(app.DependsOnService);
        Assert.Empty(app.PerService);
    }

    [Fact]
    public void A_service_rule_that_a_closer_rule_always_beats_changes_nothing()
    {
        // tier -> db allow tcp/22 (0,1,0) loses to web -> db deny (0,0,2) for web.
        var config = TierExample().Put(new Rule("p30-20-tcp22", "tier", "db", RuleAction.Deny, null, new Service(Service.Tcp, new PortRange(22, 22))));
        var engine = new PolicyEngine(config);
        var web = engine.Explain("web", "db");
        Assert.Contains(web.PerService, v => v.Service == new Service(Service.Tcp, new PortRange(22, 22)) && v.Verdict == RuleAction.Deny && v.Rule!.Id == "p10-20");
        // app: tcp/22 denied by the tier rule, the rest allowed.
        var app = engine.Explain("app", "db");
        Assert.True(app.DependsOnService);
        Assert.Equal(RuleAction.Deny, engine.Verdict("app", "db", new Packet(Service.Tcp, 22)));

        var services = engine.CompileServices(["db"]);
        Assert.Equal(
            [
                new ServiceEntry(20, 10, Service.Tcp, RuleAction.Deny, new([new PortVerdict(5432, 5432, RuleAction.Allow)])),
                new ServiceEntry(20, 11, Service.Tcp, RuleAction.Allow, new([new PortVerdict(22, 22, RuleAction.Deny)])),
                new ServiceEntry(20, 30, Service.Tcp, RuleAction.Allow, new([new PortVerdict(22, 22, RuleAction.Deny)])),
            ],
            services);
    }

    [Fact]
    public void Compile_sets_the_service_bit_only_where_the_verdict_depends_on_the_service()
    {
        var engine = new PolicyEngine(TierExample());
        var words = engine.CompileMasks(["db"]);
        // Sources 10 (web), 11 (app), 30 (tier) share word 0 of destination 20.
        var word = Assert.Single(words);
        Assert.Equal((ushort)20, word.Dst);
        Assert.Equal((ushort)0, word.SrcHi);
        Assert.Equal(VerdictWord.BitOf(11) | VerdictWord.BitOf(30), word.Allow);
        Assert.Equal(VerdictWord.BitOf(10), word.Service);
        Assert.Equal(
            [new ServiceEntry(20, 10, Service.Tcp, RuleAction.Deny, new([new PortVerdict(5432, 5432, RuleAction.Allow)]))],
            engine.CompileServices(["db"]));
        var all = engine.CompileAll(["db"]);
        Assert.Equal(words, all.Words);
        Assert.Equal(engine.CompileServices(["db"]), all.Services);
        // The old pair form is the no-service verdict.
        Assert.Equal([new VerdictEntry(11, 20, RuleAction.Allow), new VerdictEntry(30, 20, RuleAction.Allow)], engine.Compile(["db"]));
    }

    [Fact]
    public void A_word_holding_only_service_bits_is_stored()
    {
        var config = PolicyConfig.Create([new Group("web", 100), new Group("db", 20)],
            [new Rule("p100-20-tcp443", "web", "db", RuleAction.Allow, null, new Service(Service.Tcp, new PortRange(443, 443)))]);
        var engine = new PolicyEngine(config);
        Assert.Equal([new VerdictWord(20, 1, 0, VerdictWord.BitOf(100))], engine.CompileMasks(["db"]));
        Assert.Equal([new ServiceEntry(20, 100, Service.Tcp, RuleAction.Deny, new([new PortVerdict(443, 443, RuleAction.Allow)]))], engine.CompileServices(["db"]));
    }

    [Fact]
    public void Port_ranges_are_cut_into_disjoint_intervals_never_expanded_per_port()
    {
        // web -> db: allow tcp/1-65535, deny tcp/8000-8080, allow tcp/8080-9000 (ties with the
        // deny on 8080: deny wins), deny tcp (protocol only), allow udp/53, allow icmp.
        Service Tcp(ushort lo, ushort hi) => new(Service.Tcp, new PortRange(lo, hi));
        var config = PolicyConfig.Create([new Group("web", 10), new Group("db", 20)],
        [
            new Rule("p10-20-tcp1-65535", "web", "db", RuleAction.Allow, null, Tcp(1, 65535)),
            new Rule("p10-20-tcp8000-8080", "web", "db", RuleAction.Deny, null, Tcp(8000, 8080)),
            new Rule("p10-20-tcp8080-9000", "web", "db", RuleAction.Allow, null, Tcp(8080, 9000)),
            new Rule("p10-20-tcp", "web", "db", RuleAction.Deny, null, new Service(Service.Tcp)),
            new Rule("p10-20-udp53", "web", "db", RuleAction.Allow, null, new Service(Service.Udp, new PortRange(53, 53))),
            new Rule("p10-20-icmp", "web", "db", RuleAction.Allow, null, new Service(Service.Icmp)),
        ]);
        Assert.Empty(Validation.Check(config));
        var engine = new PolicyEngine(config);
        Assert.Equal(
            [
                new ServiceEntry(20, 10, Service.Icmp, RuleAction.Allow, ValueList<PortVerdict>.Empty),
                new ServiceEntry(20, 10, Service.Tcp, RuleAction.Deny, new([new PortVerdict(1, 7999, RuleAction.Allow), new PortVerdict(8081, 65535, RuleAction.Allow)])),
                new ServiceEntry(20, 10, Service.Udp, RuleAction.Deny, new([new PortVerdict(53, 53, RuleAction.Allow)])),
            ],
            engine.CompileServices(["db"]));
        Assert.Equal(RuleAction.Deny, engine.Verdict("web", "db", new Packet(Service.Tcp, 8080)));
        Assert.Equal(RuleAction.Allow, engine.Verdict("web", "db", new Packet(Service.Tcp, 8081)));
        Assert.Equal(RuleAction.Deny, engine.Verdict("web", "db", new Packet(Service.Tcp, null)));
        var tie = engine.Explain("web", "db", new Packet(Service.Tcp, 8080));
        Assert.Equal("p10-20-tcp8000-8080", tie.Rule?.Id);
        Assert.Contains("3 rules tie", tie.Reason);
        Assert.Contains("deny wins", tie.Reason);
        // The listing: each interval once, with its deciding rule.
        Assert.Equal(
            [
                "icmp allow p10-20-icmp",
                "tcp/1-7999 allow p10-20-tcp1-65535", "tcp/8000-8080 deny p10-20-tcp8000-8080",
                "tcp/8081-65535 allow p10-20-tcp1-65535", // 8081-9000 ties two allows: the first by id names it
                "tcp deny p10-20-tcp",
                "udp/53 allow p10-20-udp53", "udp deny -",
            ],
            engine.Explain("web", "db").PerService.Select(v => $"{v.Service} {PolicyJson.Word(v.Verdict)} {v.Rule?.Id ?? "-"}"));
    }

    [Fact]
    public void Untagged_sources_get_service_entries_too()
    {
        var config = PolicyConfig.Create([new Group("db", 20)],
            [new Rule("p0-20-udp67-68", null, "db", RuleAction.Allow, null, new Service(Service.Udp, new PortRange(67, 68)))]);
        var engine = new PolicyEngine(config);
        Assert.Equal([new VerdictWord(20, 0, 0, VerdictWord.BitOf(0))], engine.CompileMasks(["db"]));
        Assert.Equal([new ServiceEntry(20, 0, Service.Udp, RuleAction.Deny, new([new PortVerdict(67, 68, RuleAction.Allow)]))], engine.CompileServices(["db"]));
    }

    [Fact]
    public void Icmp_matches_icmpv4_only_and_icmpv6_icmpv6_only_and_port_rules_never_match_portless_packets()
    {
        var config = PolicyConfig.Create([new Group("web", 10), new Group("db", 20)],
        [
            new Rule("p10-20-icmp", "web", "db", RuleAction.Allow, null, new Service(Service.Icmp)),
            new Rule("p10-20-udp1-65535", "web", "db", RuleAction.Allow, null, new Service(Service.Udp, new PortRange(1, 65535))),
        ]);
        var engine = new PolicyEngine(config);
        Assert.Equal(RuleAction.Allow, engine.Verdict("web", "db", new Packet(Service.Icmp)));
        Assert.Equal(RuleAction.Deny, engine.Verdict("web", "db", new Packet(Service.Icmpv6)));
        Assert.Equal(RuleAction.Allow, engine.Verdict("web", "db", new Packet(Service.Udp, 1)));
        Assert.Equal(RuleAction.Allow, engine.Verdict("web", "db", new Packet(Service.Udp, 65535)));
        // A fragment after the first has no port: the port rule does not match it.
        Assert.Equal(RuleAction.Deny, engine.Verdict("web", "db", new Packet(Service.Udp, null)));
        Assert.Equal(RuleAction.Deny, engine.Verdict("web", "db"));
        var udp = Assert.Single(engine.CompileServices(["db"]), e => e.Proto == Service.Udp);
        Assert.Equal(RuleAction.Deny, udp.Verdict(null));
        Assert.Equal(RuleAction.Allow, udp.Verdict(40000));
    }

    [Fact]
    public void Rules_without_services_keep_their_meaning()
    {
        // The worked example has no service: every packet gets the verdict of the pair.
        var engine = new PolicyEngine(Examples.WorkedExample);
        foreach (var src in new string?[] { null, "web", "wiki", "wol", "db" })
            foreach (var dst in new[] { "web", "wiki", "wol", "db" })
            {
                var e = engine.Explain(src, dst);
                Assert.False(e.DependsOnService);
                foreach (var packet in new Packet[] { new(Service.Tcp, 5432), new(Service.Udp, 53), new(Service.Icmp), new(Service.Tcp) })
                    Assert.Equal(e.Verdict, engine.Verdict(src, dst, packet));
            }
        Assert.Empty(engine.CompileServices(engine.Groups));
        Assert.All(engine.CompileMasks(engine.Groups), w => Assert.Equal(0UL, w.Service));
    }

    [Fact]
    public void Switches_are_inherited_with_defaults()
    {
        var config = PolicyConfig.Create(
        [
            new Group("root", 1),
            new Group("strict", 2, "root", Stateful: false, Audit: true),
            new Group("leaf", 3, "strict", Infra: false),
            new Group("back", 4, "leaf", Stateful: true),
        ]);
        var engine = new PolicyEngine(config);
        Assert.Equal(new GroupSwitches(true, true, false), GroupSwitches.Default);
        Assert.Equal(GroupSwitches.Default, engine.SwitchesOf("root"));
        Assert.Equal(new GroupSwitches(Stateful: false, Infra: true, Audit: true), engine.SwitchesOf("strict"));
        Assert.Equal(new GroupSwitches(Stateful: false, Infra: false, Audit: true), engine.SwitchesOf("leaf"));
        Assert.Equal(new GroupSwitches(Stateful: true, Infra: false, Audit: true), engine.SwitchesOf("back"));
        Assert.Throws<ArgumentException>(() => engine.SwitchesOf("nope"));
    }
}
