// Semantic checks of a whole config (SPEC §3.3): run on commit, on API writes and in the agent.
namespace Microseg.Policy;

public static class Validation
{
    /// <summary>Every problem of the config; empty when it is valid. Groups without a mark
    /// are allowed here (commit assigns them); rule ids are checked only once marks exist.</summary>
    public static IReadOnlyList<ConfigProblem> Check(PolicyConfig config)
    {
        var problems = new List<ConfigProblem>();
        void Add(ObjectType type, string id, string? field, string message) =>
            problems.Add(new ConfigProblem(config.Source?.Locate(type, id) ?? "", ConfigProblem.Describe(type, id), message, field));

        // Every object: an id no other type has, values that stay one line, comments in bounds.
        var firstOfId = new Dictionary<string, ObjectType>(StringComparer.Ordinal);
        foreach (var obj in config.Objects)
        {
            if (firstOfId.TryGetValue(obj.Id, out var earlier))
                Add(obj.Type, obj.Id, null, $"id '{Text.Clip(obj.Id)}' is also the id of {ConfigProblem.Describe(earlier, obj.Id)} (ids are unique across types)");
            else firstOfId[obj.Id] = obj.Type;
            if (Names.ControlProblem("id", obj.Id) is { } idProblem) Add(obj.Type, obj.Id, null, idProblem);
            foreach (var (key, value) in SectionConfig.Properties(obj))
            {
                if (Names.ControlProblem(key, value) is { } valueProblem) Add(obj.Type, obj.Id, key, valueProblem);
                else if (key == "comment" && Names.CommentLengthProblem(value) is { } lengthProblem) Add(obj.Type, obj.Id, key, lengthProblem);
            }
        }

        // Groups: names, marks, parents.
        var byMark = new Dictionary<int, string>();
        foreach (var g in config.Groups.Values)
        {
            if (Names.GroupNameProblem(g.Name) is { } nameProblem) Add(ObjectType.Group, g.Id, null, nameProblem);
            if (g.Mark is { } mark)
            {
                if (Names.MarkProblem(mark) is { } markProblem) Add(ObjectType.Group, g.Id, "mark", markProblem);
                else if (byMark.TryGetValue(mark, out var other))
                    Add(ObjectType.Group, g.Id, "mark", $"mark {mark} is already used by group '{other}'");
                else byMark[mark] = g.Name;
            }
            if (g.Parent is { } parent)
            {
                if (parent == g.Name) Add(ObjectType.Group, g.Id, "parent", "is its own parent");
                else if (!config.Groups.ContainsKey(parent)) Add(ObjectType.Group, g.Id, "parent", $"unknown parent group '{Text.Clip(parent)}'");
            }
        }
        foreach (var cycle in ParentCycles(config))
            Add(ObjectType.Group, cycle[0], "parent", $"parent cycle: {string.Join(" -> ", cycle)} -> {cycle[0]}");

        // Rules: known groups, one per key, derived id.
        var byKey = new Dictionary<RuleKey, string>();
        foreach (var r in config.Rules.Values)
        {
            bool known = true;
            if (r.Src is { } src && !config.Groups.ContainsKey(src))
            {
                Add(ObjectType.Rule, r.Id, "src", $"unknown src group '{Text.Clip(src)}'");
                known = false;
            }
            if (!config.Groups.ContainsKey(r.Dst))
            {
                Add(ObjectType.Rule, r.Id, "dst", $"unknown dst group '{Text.Clip(r.Dst)}'");
                known = false;
            }
            if (r.Service?.Problem() is { } serviceProblem) Add(ObjectType.Rule, r.Id, serviceProblem.Field, serviceProblem.Message);
            if (!known) continue;
            if (byKey.TryGetValue(r.Key, out var other))
                Add(ObjectType.Rule, r.Id, "dst", $"rule '{other}' already covers {r.Key}");
            else byKey[r.Key] = r.Id;
            if (config.DerivedRuleId(r.Key) is { } derived && derived != r.Id)
                Add(ObjectType.Rule, r.Id, null, $"id '{Text.Clip(r.Id)}' does not match the derived id '{derived}' (p{{src_mark}}-{{dst_mark}}, src_mark 0 for untagged, then -{{proto}}{{dport}} for a rule with a service)");
        }

        // Assignments: ranges, known group, one per NIC.
        var byNic = new Dictionary<(long, long), string>();
        foreach (var (id, a) in config.Assignments)
        {
            if (a.Vmid is < Names.MinVmid or > Names.MaxVmid) Add(ObjectType.Assignment, id, "vmid", $"vmid {a.Vmid} is out of range {Names.MinVmid}..{Names.MaxVmid}");
            if (a.Iface is < Names.MinIface or > Names.MaxIface) Add(ObjectType.Assignment, id, "iface", $"iface {a.Iface} is out of range {Names.MinIface}..{Names.MaxIface}");
            if (!config.Groups.ContainsKey(a.Group)) Add(ObjectType.Assignment, id, "group", $"unknown group '{Text.Clip(a.Group)}'");
            if (byNic.TryGetValue((a.Vmid, a.Iface), out var other))
                Add(ObjectType.Assignment, id, "vmid", $"vmid {a.Vmid} iface {a.Iface} is already assigned by '{other}'");
            else byNic[(a.Vmid, a.Iface)] = id;
            if (id != a.Id) Add(ObjectType.Assignment, id, null, $"id must be '{a.Id}' (derived from vmid and iface)");
        }

        // Bridges and forwarders: interface and node names.
        foreach (var b in config.Bridges.Values)
        {
            if (Names.InterfaceNameProblem(b.Name) is { } p) Add(ObjectType.Bridge, b.Id, null, p);
            foreach (var node in b.Nodes)
                if (Names.NodeNameProblem(node) is { } np) Add(ObjectType.Bridge, b.Id, "nodes", np);
            if (b.Nodes.Distinct().Count() != b.Nodes.Count) Add(ObjectType.Bridge, b.Id, "nodes", "nodes lists a node twice");
        }
        foreach (var f in config.Forwarders.Values)
        {
            if (Names.ForwarderNameProblem(f.Name) is { } fp) Add(ObjectType.Forwarder, f.Id, null, fp);
            foreach (var node in f.Nodes)
                if (Names.NodeNameProblem(node) is { } np) Add(ObjectType.Forwarder, f.Id, "nodes", np);
            if (f.Nodes.Distinct().Count() != f.Nodes.Count) Add(ObjectType.Forwarder, f.Id, "nodes", "nodes lists a node twice");
            if (Names.InterfaceNameProblem(f.Router) is { } rp) Add(ObjectType.Forwarder, f.Id, "router", "router: " + rp);
            var wildcard = f.Physical.Count == 1 && f.Physical[0] == "*";
            if (!wildcard)
            {
                foreach (var phys in f.Physical)
                    if (Names.InterfaceNameProblem(phys) is { } pp) Add(ObjectType.Forwarder, f.Id, "physical", "physical: " + pp);
                if (f.Physical.Contains(f.Router)) Add(ObjectType.Forwarder, f.Id, "router", $"router '{f.Router}' is also listed as physical");
                if (f.Physical.Distinct().Count() != f.Physical.Count) Add(ObjectType.Forwarder, f.Id, "physical", "physical lists an interface twice");
            }
        }
        // An interface belongs to one forwarder at most on a node, as router or as physical NIC
        // (forwarders listed for different nodes may name the same interfaces).
        var owners = new Dictionary<string, List<Forwarder>>(StringComparer.Ordinal);
        foreach (var f in config.Forwarders.Values)
            foreach (var itf in f.Physical.Where(p => p != "*").Prepend(f.Router).Distinct())
            {
                if (!owners.TryGetValue(itf, out var list)) owners[itf] = list = [];
                if (list.FirstOrDefault(other => SharesANode(other, f)) is { } other)
                    Add(ObjectType.Forwarder, f.Id, null, $"interface '{itf}' already belongs to forwarder '{other.Id}'");
                list.Add(f);
            }

        return problems;
    }

    private static bool SharesANode(Forwarder a, Forwarder b) =>
        a.Nodes.Count == 0 || b.Nodes.Count == 0 || a.Nodes.Intersect(b.Nodes).Any();

    /// <summary>The problems <paramref name="after"/> has that <paramref name="before"/> did not
    /// (compared as records, object, field and message, wherever they stand: an edit moves
    /// lines). Editors refuse an edit that adds any, while problems a hand-edited file already
    /// had do not block unrelated edits.</summary>
    public static IReadOnlyList<ConfigProblem> AddedProblems(IEnumerable<ConfigProblem> before, IEnumerable<ConfigProblem> after)
    {
        var known = before.Select(p => p.Unplaced).ToHashSet();
        return [.. after.Where(p => !known.Contains(p.Unplaced))];
    }

    /// <summary>Throws <see cref="ConfigException"/> with every problem, if there is any.</summary>
    public static void Ensure(PolicyConfig config)
    {
        var problems = Check(config);
        if (problems.Count > 0) throw new ConfigException(problems);
    }

    /// <summary>Each parent cycle once, as the groups in it in parent order, starting from the
    /// smallest name so the message is stable.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> ParentCycles(PolicyConfig config)
    {
        var cycles = new List<IReadOnlyList<string>>();
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 = on the current walk, 2 = done
        foreach (var start in config.Groups.Keys)
        {
            if (state.ContainsKey(start)) continue;
            var walk = new List<string>();
            var name = start;
            while (name is not null && config.Groups.TryGetValue(name, out var g) && !state.ContainsKey(name))
            {
                state[name] = 1;
                walk.Add(name);
                name = g.Parent;
            }
            if (name is not null && state.TryGetValue(name, out var s) && s == 1)
            {
                var cycle = walk.Skip(walk.IndexOf(name)).ToList();
                var minAt = cycle.IndexOf(cycle.Min(StringComparer.Ordinal)!);
                cycles.Add([.. cycle.Skip(minAt), .. cycle.Take(minAt)]);
            }
            foreach (var w in walk) state[w] = 2;
        }
        return cycles;
    }
}

public static class Marks
{
    /// <summary>Gives every group without a mark the lowest free mark ≥ 1, in group-name order.
    /// Returns the config and the groups that got one (empty: nothing changed).</summary>
    public static (PolicyConfig Config, IReadOnlyList<Group> Assigned) AssignMissing(PolicyConfig config)
    {
        var used = new HashSet<int>(config.Groups.Values.Where(g => g.Mark.HasValue).Select(g => g.Mark!.Value));
        var assigned = new List<Group>();
        int next = Names.MinMark;
        foreach (var g in config.Groups.Values.Where(g => g.Mark is null))
        {
            while (used.Contains(next)) next++;
            if (next > Names.MaxMark)
                throw new ConfigException([new ConfigProblem(config.Source?.Locate(ObjectType.Group, g.Id) ?? "",
                    ConfigProblem.Describe(ObjectType.Group, g.Id), "no free mark left (all of 1..65535 are taken)", "mark")]);
            var withMark = g with { Mark = next };
            used.Add(next);
            assigned.Add(withMark);
            config = config.Put(withMark);
        }
        return (config, assigned);
    }

    /// <summary>The lowest mark ≥ 1 that no group uses.</summary>
    public static int NextFree(PolicyConfig config)
    {
        var used = config.Groups.Values.Where(g => g.Mark.HasValue).Select(g => g.Mark!.Value).ToHashSet();
        for (int m = Names.MinMark; m <= Names.MaxMark; m++)
            if (!used.Contains(m)) return m;
        throw new ConfigException([new ConfigProblem("", null, "no free mark left (all of 1..65535 are taken)", "mark")]);
    }
}
