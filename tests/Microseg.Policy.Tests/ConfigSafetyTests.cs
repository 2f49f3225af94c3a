// What a review found could lose data or let bad input into the config: a Proxmox SDN
// running-config rewritten whole, a missing directory or file read (and committed) as an empty
// policy, a snapshot of `{}` read as one, rule ids re-derived onto another type's id, control
// characters and unbounded comments in values, temp files left behind, modes and owners lost.
using System.Diagnostics;
using System.Text;
using Microseg.TestSupport;

namespace Microseg.Policy.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ConfigSafetyTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly DirectoryConfigStore store;

    public ConfigSafetyTests() => store = new DirectoryConfigStore(dir.Path);

    public void Dispose() => dir.Dispose();

    private static readonly HashSet<string> None = [];

    // ---- 1. a Proxmox SDN running-config keeps everything but its "microseg" key ------------

    private const string SdnHead = "{\"version\":17,\"zones\":{\"ids\":{\"z1\":{\"type\":\"vxlan\",\"peers\":\"10.0.0.1, 10.0.0.2\"}}},\"microseg\":";
    private const string SdnTail = ",\"vnets\":{\"ids\":{\"v1\":{\"zone\":\"z1\",\"tag\":4242,\"alias\":\"caf\\u00e9 \\\"net\\\"\"}}},\"subnets\":{}}\n";

    [Fact]
    public void Commit_into_an_sdn_running_config_replaces_only_the_microseg_value()
    {
        var sdn = dir.File(".running-config");
        var inner = Encoding.UTF8.GetString(SnapshotFormat.Write(new Snapshot(4, PolicyConfig.Create([new Group("old", 1)]))));
        File.WriteAllText(sdn, SdnHead + inner + SdnTail);
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);

        var sdnStore = new DirectoryConfigStore(dir.Path, sdn);
        Assert.Equal(5, sdnStore.Commit().Snapshot.Version);

        var text = File.ReadAllText(sdn);
        Assert.StartsWith(SdnHead, text);
        Assert.EndsWith(SdnTail, text);
        var running = sdnStore.ReadRunning()!;
        Assert.Equal(5, running.Version);
        ModelAssert.SameObjects(Examples.WorkedExample, running.Config);
    }

    [Fact]
    public void An_sdn_running_config_without_a_microseg_key_is_an_error_naming_the_file_and_a_commit_adds_the_key()
    {
        var sdn = dir.File(".running-config");
        var foreign = "{\"version\":3,\"zones\":{\"ids\":{}},\"vnets\":{\"ids\":{}}}";
        File.WriteAllText(sdn, foreign);
        var sdnStore = new DirectoryConfigStore(dir.Path, sdn);
        var e = Assert.Throws<ConfigException>(() => sdnStore.ReadRunning());
        Assert.Contains(sdn, e.Message);
        Assert.Contains("'microseg'", e.Message);

        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        sdnStore.Commit();
        var text = File.ReadAllText(sdn);
        Assert.StartsWith(foreign[..^1] + ",\"microseg\":{", text);
        Assert.Equal(1, sdnStore.ReadRunning()!.Version);
    }

    // ---- 2. a missing directory or file is not an empty policy ------------------------------

    [Fact]
    public void Commit_and_edits_in_a_missing_directory_are_refused_and_do_not_create_it()
    {
        var typo = Path.Combine(dir.Path, "typo");
        var missing = new DirectoryConfigStore(typo);
        var e = Assert.Throws<ConfigException>(() => missing.Commit());
        Assert.Contains(typo, e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Throws<ConfigException>(() => missing.EditPending(c => c.Put(new Group("a", 1))));
        Assert.False(Directory.Exists(typo));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    public void Commit_of_a_missing_or_empty_pending_config_is_refused(string? pending)
    {
        if (pending is not null) File.WriteAllText(store.PendingPath, pending);
        var e = Assert.Throws<ConfigException>(() => store.Commit());
        Assert.Contains(store.PendingPath, e.Message);
        Assert.Contains("--allow-empty", e.Message);
        Assert.False(File.Exists(store.RunningPath));
    }

    // ---- 3. a snapshot without ids is not an empty policy -----------------------------------

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"version\": 1}")]
    [InlineData("{\"ids\": {}}")]
    [InlineData("{\"microseg\": {}}")]
    [InlineData("{\"microseg\": {\"version\": 2}}")]
    public void A_snapshot_without_version_and_ids_is_an_error_naming_the_file(string json)
    {
        File.WriteAllText(store.RunningPath, json);
        var e = Assert.Throws<ConfigException>(() => store.ReadRunning());
        Assert.Contains(store.RunningPath, e.Message);
    }

    [Fact]
    public void A_snapshot_with_empty_ids_is_an_empty_policy()
    {
        File.WriteAllText(store.RunningPath, "{\"version\": 3, \"ids\": {}}");
        var running = store.ReadRunning()!;
        Assert.Equal(3, running.Version);
        Assert.Equal(0, running.Config.Count);
    }

    // ---- 5. ids are unique across types, also after a mark change -----------------------------

    private static PolicyConfig MarkTrap(IConfigObject squatter) => PolicyConfig.Create(
        [new Group("a", 1), new Group("b", 2), .. squatter is Group g ? [g] : Array.Empty<Group>()],
        [new Rule("p1-2", "a", "b", RuleAction.Allow)],
        bridges: squatter is Bridge br ? [br] : null,
        forwarders: squatter is Forwarder f ? [f] : null);

    public static TheoryData<string> Squatters => ["group", "bridge", "forwarder"];

    private static IConfigObject Squatter(string type) => type switch
    {
        "group" => new Group("p3-2", 7),
        "bridge" => new Bridge("p3-2", ValueList<string>.Empty),
        _ => new Forwarder("p3-2", "eth9", new ValueList<string>(["eth1"])),
    };

    [Theory]
    [MemberData(nameof(Squatters))]
    public void A_mark_change_that_would_re_derive_a_rule_id_onto_another_type_is_refused_naming_both(string type)
    {
        var config = MarkTrap(Squatter(type));
        var e = Assert.Throws<ConfigEditException>(() => ConfigEdits.UpdateGroup(config, "a", 3, null, null, None));
        var problem = Assert.Single(e.Problems);
        Assert.Equal("mark", problem.Field);
        Assert.Contains("rule 'p1-2'", problem.Message);
        Assert.Contains($"{type} 'p3-2'", problem.Message);
    }

    [Theory]
    [MemberData(nameof(Squatters))]
    public void Validation_reports_an_id_shared_by_two_types(string type)
    {
        var config = MarkTrap(Squatter(type)).Put(new Rule("p3-2", "a", "b", RuleAction.Deny));
        Assert.Contains(Validation.Check(config), p => p.Message.Contains("unique across types"));
    }

    [Fact]
    public void The_store_leaves_the_file_alone_when_a_mark_change_is_refused()
    {
        File.WriteAllText(store.PendingPath, "group: a\n\tmark 1\n\ngroup: b\n\tmark 2\n\ngroup: p3-2\n\tmark 7\n\nrule: p1-2\n\tsrc a\n\tdst b\n\taction allow\n");
        var before = File.ReadAllBytes(store.PendingPath);
        Assert.Throws<ConfigEditException>(() => store.EditPending(c => ConfigEdits.UpdateGroup(c, "a", 3, null, null, None).Config));
        Assert.Equal(before, File.ReadAllBytes(store.PendingPath));
        Assert.Equal(3, store.ReadPending().Config.Groups.Count);
    }

    // ---- 6. no control character in a value or an id --------------------------------------

    [Theory]
    [InlineData("group: a\n\tcomment x\u0001y\n", 2, "comment")]
    [InlineData("group: a\n\tcomment one\ttwo\n", 2, "comment")]
    [InlineData("group: a\n\tparent b\u007f\n", 2, "parent")]
    [InlineData("group: a\u0002b\n\tmark 1\n", 1, null)]
    [InlineData("bridge: eth1\n\tnodes n1,n\u001b2\n", 2, "nodes")]
    public void The_parser_refuses_control_characters_naming_the_line_and_field(string text, int line, string? field)
    {
        var e = Assert.Throws<ConfigException>(() => SectionConfig.Parse(text, "x.cfg"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal($"x.cfg:{line}", problem.Where);
        Assert.Equal(field, problem.Field);
        Assert.Contains("control character", problem.Message);
        Assert.DoesNotContain('\u001b', e.Message);
    }

    private const string Evil = "x\n\ngroup: evil\n\tmark 9";

    [Fact]
    public void Edits_refuse_control_characters_in_every_value_naming_the_field()
    {
        var two = PolicyConfig.Create([new Group("web", 10), new Group("db", 20)], [new Rule("p20-10", "db", "web", RuleAction.Allow)],
            [new Assignment(100, 0, "web")], [new Bridge("eth1", ValueList<string>.Empty)], [new Forwarder("net0", "eth9", new ValueList<string>(["eth2"]))]);
        var nodes = new ValueList<string>(["n1", Evil]);
        var attempts = new (string Field, Action Edit)[]
        {
            ("comment", () => ConfigEdits.AddGroup(two, "app", null, null, Evil)),
            ("parent", () => ConfigEdits.AddGroup(two, "app", null, Evil, null)),
            ("comment", () => ConfigEdits.UpdateGroup(two, "web", null, null, Evil, None)),
            ("parent", () => ConfigEdits.UpdateGroup(two, "web", null, Evil, null, None)),
            ("comment", () => ConfigEdits.AddRule(two, new RuleKey("web", "db"), RuleAction.Allow, Evil)),
            ("comment", () => ConfigEdits.UpdateRule(two, "p20-10", null, Evil, None)),
            ("group", () => ConfigEdits.AddAssignment(two, 101, 0, Evil)),
            ("group", () => ConfigEdits.UpdateAssignment(two, "vm100i0", Evil)),
            ("nodes", () => ConfigEdits.AddBridge(two, "eth3", nodes)),
            ("nodes", () => ConfigEdits.UpdateBridge(two, "eth1", nodes)),
            ("router", () => ConfigEdits.UpdateForwarder(two, "net0", Evil, null, null)),
            ("physical", () => ConfigEdits.UpdateForwarder(two, "net0", null, new ValueList<string>([Evil]), null)),
        };
        foreach (var (field, edit) in attempts)
        {
            var e = Assert.Throws<ConfigEditException>(edit);
            Assert.Contains(e.Problems, p => p.Field == field && p.Message.Contains("control character"));
        }
    }

    [Fact]
    public void The_writer_never_writes_a_value_that_would_start_a_section()
    {
        File.WriteAllText(store.PendingPath, "group: a\n\tmark 1\n");
        var before = File.ReadAllBytes(store.PendingPath);
        Assert.Throws<ConfigException>(() => store.EditPending(c => c.Put(new Group("b", 2, null, Evil))));
        Assert.Equal(before, File.ReadAllBytes(store.PendingPath));
        Assert.Contains(Validation.Check(PolicyConfig.Create([new Group("b", 2, null, Evil)])), p => p.Field == "comment");
    }

    // ---- 7. comments are bounded --------------------------------------------------------------

    [Theory]
    [InlineData(4096, 'x', true)]
    [InlineData(4097, 'x', false)]
    [InlineData(4096, 'é', true)]  // characters, not bytes, as Proxmox counts
    [InlineData(4097, 'é', false)]
    public void A_comment_is_at_most_4096_characters_in_the_file_and_in_edits(int length, char c, bool ok)
    {
        var comment = new string(c, length);
        var text = $"group: a\n\tmark 1\n\tcomment {comment}\n";
        var two = PolicyConfig.Create([new Group("web", 10)], [new Rule("p0-10", null, "web", RuleAction.Allow)]);
        if (ok)
        {
            Assert.Equal(comment, SectionConfig.Parse(text, "x.cfg").Groups["a"].Comment);
            ConfigEdits.AddGroup(two, "app", null, null, comment);
            return;
        }
        var parsed = Assert.Throws<ConfigException>(() => SectionConfig.Parse(text, "x.cfg"));
        Assert.Equal("comment", Assert.Single(parsed.Problems).Field);
        Assert.Contains("4096", parsed.Message);
        foreach (var edit in new Action[]
        {
            () => ConfigEdits.AddGroup(two, "app", null, null, comment),
            () => ConfigEdits.UpdateGroup(two, "web", null, null, comment, None),
            () => ConfigEdits.AddRule(two, new RuleKey("web", "web"), RuleAction.Allow, comment),
            () => ConfigEdits.UpdateRule(two, "p0-10", null, comment, None),
        })
            Assert.Equal("comment", Assert.Single(Assert.Throws<ConfigEditException>(edit).Problems).Field);
        Assert.Contains(Validation.Check(PolicyConfig.Create([new Group("b", 2, null, comment)])), p => p.Field == "comment");
    }

    // ---- 8. temp files of interrupted writes are removed --------------------------------------

    [Fact]
    public void Stale_temp_files_are_removed_under_the_lock_and_live_ones_kept()
    {
        File.WriteAllBytes(store.PendingPath, Examples.WorkedExampleBytes);
        string Temp(string file, int pid) => dir.File($".{file}.{pid}.{Guid.NewGuid():N}.tmp");
        const int gone = 2147483646; // beyond any pid_max
        var deadWriter = Temp(DirectoryConfigStore.PendingFileName, gone);
        var deadSnapshotWriter = Temp(DirectoryConfigStore.RunningFileName, gone);
        var old = Temp(DirectoryConfigStore.PendingFileName, Environment.ProcessId);
        var live = Temp(DirectoryConfigStore.PendingFileName, Environment.ProcessId);
        var notOurs = dir.File(".microseg.cfg.editor.tmp");
        foreach (var f in new[] { deadWriter, deadSnapshotWriter, old, live, notOurs }) File.WriteAllText(f, "partial");
        File.SetLastWriteTimeUtc(old, DateTime.UtcNow - TimeSpan.FromMinutes(30));

        store.EditPending(c => c.Put(new Group("extra", 99)));

        Assert.False(File.Exists(deadWriter));
        Assert.False(File.Exists(deadSnapshotWriter));
        Assert.False(File.Exists(old));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(notOurs));
    }

    // ---- 9. modes and owners ------------------------------------------------------------------

    private const UnixFileMode Mode0640 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

    [Fact]
    public void New_config_files_are_created_0640_at_most()
    {
        store.EditPending(c => c.Put(new Group("a", 1)));
        store.Commit();
        Assert.Equal(0, (int)(File.GetUnixFileMode(store.PendingPath) & ~Mode0640));
        Assert.Equal(0, (int)(File.GetUnixFileMode(store.RunningPath) & ~Mode0640));
    }

    [Fact]
    public void A_rewrite_keeps_the_mode_and_owner_of_the_file_it_replaces()
    {
        File.WriteAllText(store.PendingPath, "group: a\n\tmark 1\n");
        File.SetUnixFileMode(store.PendingPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var root = Environment.UserName == "root";
        if (root) Run("chown", "nobody:nogroup", store.PendingPath);
        var owner = Run("stat", "-c", "%u:%g", store.PendingPath);

        store.EditPending(c => c.Put(new Group("b", 2)));
        store.Commit();
        store.EditPending(c => c.Put(new Group("c", 3)));

        Assert.True(store.ReadPending().Config.Groups.ContainsKey("c"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.PendingPath));
        Assert.Equal(owner, Run("stat", "-c", "%u:%g", store.PendingPath));
        if (root) Assert.NotEqual("0:0", owner);
    }

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
        return output.Trim();
    }
}
