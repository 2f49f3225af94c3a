// The web UI in a real headless Chromium against a running server: log in with a token, build
// policy, watch the matrix follow, commit. Screenshots go to out/test-artifacts/ui/.
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;
using Microseg.Policy;
using Xunit.Abstractions;

namespace Microseg.Api.Tests;

public sealed class WebUiTests(ITestOutputHelper output)
{
    private static void LogIn(HeadlessChromium b, ApiHost api)
    {
        b.Driver.Navigate().GoToUrl(api.Address);
        b.Until("the login form", () => b.Find("#token-input").Displayed);
        b.Find("#token-input").SendKeys(api.Admin);
        b.Find("#login-button").Click();
        b.Until("the policy view", () => b.Find("#app").Displayed && b.Find("#group-tree").Displayed);
    }

    /// <summary>Picks an option of a select as a user does (a click fires its change event).</summary>
    private static void Choose(HeadlessChromium b, string select, string value) =>
        b.Find($"{select} option[value='{value}']").Click();

    /// <summary>Finds a group with a search input as a user does: types it, clicks the match.</summary>
    private static void Pick(HeadlessChromium b, string input, string group)
    {
        var box = b.Find(input);
        box.Clear();
        box.SendKeys(group);
        var match = $"{input} ~ .matches li[data-group='{group}']";
        b.Until($"{group} among the matches of {input}", () => b.FindAll(match).Count == 1);
        b.Find(match).Click();
    }

    private static IWebElement Cell(HeadlessChromium b, string src, string dst) =>
        b.Find($"#matrix td[data-src='{src}'][data-dst='{dst}']");

    [BrowserFact]
    public async Task Log_in_create_two_groups_and_a_rule_see_the_matrix_change_and_commit()
    {
        await using var api = await ApiHost.StartAsync();
        using var b = new HeadlessChromium();
        LogIn(b, api);

        foreach (var name in new[] { "web", "db" })
        {
            b.Find("#group-name").SendKeys(name);
            b.Find("#group-submit").Click();
            b.Until($"group {name} in the tree", () => b.FindAll($"#group-tree li[data-group='{name}']").Count == 1);
        }
        b.Until("the db -> web cell", () => Cell(b, "db", "web").GetAttribute("data-verdict") == "deny");
        Assert.Contains("default deny", Cell(b, "db", "web").GetAttribute("title"));

        Pick(b, "#rule-src", "db");
        Pick(b, "#rule-dst", "web");
        Choose(b, "#rule-action", "allow");
        b.Find("#rule-submit").Click();
        b.Until("db -> web to turn allow", () => Cell(b, "db", "web").GetAttribute("data-verdict") == "allow");
        var rule = api.Store.ReadPending().Config.Rules.Values.Single();
        Assert.Equal(new Rule("p2-1", "db", "web", RuleAction.Allow), rule);
        // The deciding rule on hover (title) and on click (the explanation).
        Assert.Equal("db → web: allow by rule p2-1", Cell(b, "db", "web").GetAttribute("title"));
        Assert.Equal("deny", Cell(b, "web", "db").GetAttribute("data-verdict"));
        new Actions(b.Driver).MoveToElement(Cell(b, "db", "web")).Click().Perform();
        b.Until("the explanation", () => b.Find("#explain-panel").Displayed && b.Find("#explain-summary").Text.Contains("(rule p2-1)"));
        Assert.Contains("dst distance 0, src distance 0", b.Find("#explain-reason").Text);
        Assert.Equal("3 pending", b.Find("#pending-badge").Text);
        b.Screenshot("policy-before-commit");

        b.Find("#commit-button").Click();
        b.Until("the commit result", () => b.Find("#apply-result").Displayed && b.Find("#apply-result").Text.Contains("Committed version 1"));
        // No bpffs for this server's agent: the apply fails and the UI says why.
        Assert.Contains("Apply of version 1 on testnode failed", b.Find("#apply-result").Text);
        b.Until("the badge to clear", () => b.Find("#pending-badge").Text == "0 pending");
        var snapshot = SnapshotFormat.Read(File.ReadAllBytes(api.RunningPath), api.RunningPath);
        Assert.Equal(rule, snapshot.Config.Rules.Values.Single());
        b.Screenshot("after-commit");

        b.Find("#tabs button[data-tab='pending']").Click();
        b.Until("the pending tab", () => b.Find("#tab-pending").Displayed);
        Assert.Contains("Nothing to commit", b.Find("#pending-list").Text);
        Assert.Contains("failed", b.Find("#last-apply").Text);
    }

    [BrowserFact]
    public async Task A_wrong_token_and_invalid_input_are_explained()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n");
        using var b = new HeadlessChromium();
        b.Driver.Navigate().GoToUrl(api.Address);
        b.Until("the login form", () => b.Find("#token-input").Displayed);
        b.Find("#token-input").SendKeys(api.Admin[..^4] + "0000");
        b.Find("#login-button").Click();
        b.Until("the login error", () => b.Find("#login-error").Displayed);
        Assert.Contains("not accepted", b.Find("#login-error").Text);
        Assert.False(b.Find("#app").Displayed);

        b.Find("#token-input").Clear();
        LogIn(b, api);
        b.Find("#group-name").SendKeys("web");
        b.Find("#group-submit").Click();
        b.Until("the form error", () => b.Find("#group-form .form-error").Displayed);
        Assert.Equal("id: group 'web' already exists", b.Find("#group-form .form-error").Text);

        // Someone else edits meanwhile: the UI's next write is a conflict, and it reloads.
        await api.Ok(HttpMethod.Post, "group", new { id = "db" });
        b.Find("#group-name").Clear();
        b.Find("#group-name").SendKeys("app");
        b.Find("#group-submit").Click();
        b.Until("the conflict message", () => b.Find("#message").Displayed && b.Find("#message").Text.Contains("changed by someone else"));
        b.Until("the reloaded tree", () => b.FindAll("#group-tree li[data-group='db']").Count == 1);
        Assert.False(api.Store.ReadPending().Config.Groups.ContainsKey("app"));
    }

    [BrowserFact]
    public async Task The_worked_example_shows_inheritance_in_the_tree_and_the_matrix()
    {
        var example = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", "microseg.cfg"));
        await using var api = await ApiHost.StartAsync(example + "\nbridge: eth1\n\tnodes node1,node2\n");
        using var b = new HeadlessChromium();
        LogIn(b, api);
        b.Until("the matrix", () => b.FindAll("#matrix td.cell").Count == 5 * 4);
        // wiki and wol are children of web in the tree.
        Assert.Equal(2, b.FindAll("#group-tree li[data-group='web'] li").Count);
        Assert.Equal("allow", Cell(b, "db", "wiki").GetAttribute("data-verdict"));   // inherited from db -> web
        Assert.Equal("deny", Cell(b, "db", "wol").GetAttribute("data-verdict"));     // its own rule wins
        Assert.Equal("allow", Cell(b, "wol", "db").GetAttribute("data-verdict"));    // src distance 1
        Cell(b, "db", "wiki").Click();
        b.Until("the explanation", () => b.Find("#explain-summary").Text.Contains("db → wiki: allow (rule p20-10)"));
        Assert.Contains("dst distance 1", b.Find("#explain-reason").Text);
        b.Screenshot("worked-example");

        b.Find("#tabs button[data-tab='assignments']").Click();
        b.Until("the assignments", () => b.FindAll("#assignment-table tr[data-assignment]").Count == 3);
        // Moving a NIC to another group is a select away.
        Pick(b, "#assignment-table tr[data-assignment='vm100i0'] input", "db");
        b.Until("the move to land", () => api.Store.ReadPending().Config.Assignments["vm100i0"].Group == "db");
        b.Screenshot("assignments");

        b.Find("#tabs button[data-tab='carriers']").Click();
        b.Until("the bridges", () => b.Find("#bridge-table").Text.Contains("node1, node2"));
        b.Find("#tabs button[data-tab='pending']").Click();
        b.Until("the pending changes", () => b.FindAll("#pending-list li.added").Count == api.Store.ReadPending().Config.Count);
        b.Screenshot("pending");
    }

    [BrowserFact]
    public async Task Twenty_thousand_groups_open_filter_a_subtree_and_explain_a_cell()
    {
        await using var api = await ApiHost.StartAsync(LargeConfig.Text(20_000, 60));
        using var b = new HeadlessChromium();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        LogIn(b, api);
        b.Until("the first window of the matrix", () => b.FindAll("#matrix td.cell").Count > 0, 120);
        output.WriteLine($"20,062 groups: logged in to the first matrix window in {clock.ElapsedMilliseconds} ms");
        // A window, not the groups² matrix: 1,000 cells at most, and the range says how much there is.
        Assert.InRange(b.FindAll("#matrix td").Count, 1, 1000);
        Assert.Equal("sources 1–10 of 20,063 × destinations 1–100 of 20,062", b.Find("#matrix-range").Text);
        // The tree shows the 20,000 tenants only when asked, and then 200 at a time.
        var toggle = b.Find("#group-tree li[data-group='tenants'] > .node .toggle");
        Assert.Equal("▸ 20,000", toggle.Text);
        Assert.Empty(b.FindAll("#group-tree li[data-group='tenants'] li"));
        toggle.Click();
        b.Until("200 tenants", () => b.FindAll("#group-tree li[data-group='tenants'] > ul > li[data-group]").Count == 200);
        Assert.Contains("19,800 not shown", b.Find("#group-tree li[data-group='tenants'] > ul > li.more").Text);

        // Pick the tenants' subtree as sources and the services' as destinations by searching.
        clock.Restart();
        Pick(b, "#matrix-src", "tenants");
        b.Find("#matrix-dst").SendKeys("services" + Keys.Enter);
        b.Until("the filtered window", () => b.Find("#matrix-range").Text == "sources 1–16 of 20,001 × destinations 1–61 of 61");
        output.WriteLine($"filter to tenants x services: {clock.ElapsedMilliseconds} ms");
        Assert.Equal("tenants and the 20,000 groups below it", b.Find("#matrix-src-current").Text);
        Assert.Equal(16 * 61, b.FindAll("#matrix td.cell").Count);
        Assert.Equal("allow", Cell(b, LargeConfig.Tenant(15), LargeConfig.Service(60)).GetAttribute("data-verdict"));
        Assert.Equal("deny", Cell(b, LargeConfig.Tenant(15), "services").GetAttribute("data-verdict"));
        b.Find("#matrix-down").Click();
        b.Until("the next rows", () => b.Find("#matrix-range").Text.StartsWith("sources 17–32 of 20,001"));
        Assert.Equal("allow", Cell(b, LargeConfig.Tenant(31), LargeConfig.Service(1)).GetAttribute("data-verdict"));

        // One tenant among 20,000, found by search; its cell's rule on hover, the explanation on click.
        Pick(b, "#matrix-src", "t12345");
        b.Until("its row", () => b.Find("#matrix-range").Text == "sources 1–1 of 1 × destinations 1–61 of 61");
        var cell = Cell(b, "t12345", LargeConfig.Service(7));
        Assert.Equal($"t12345 → s07: allow by rule {LargeConfig.RuleTo(7)}", cell.GetAttribute("title"));
        cell.Click();
        b.Until("the explanation", () => b.Find("#explain-summary").Text == $"t12345 → s07: allow (rule {LargeConfig.RuleTo(7)})");
        Assert.Contains("dst distance 0, src distance 1", b.Find("#explain-reason").Text);
        b.Screenshot("matrix-20000-groups");
    }

    [BrowserFact]
    public async Task A_port_rule_makes_a_partial_cell_explained_per_service_and_the_switches_and_forwarder_nodes_are_edited()
    {
        await using var api = await ApiHost.StartAsync("group: web\n\tmark 10\n\ngroup: db\n\tmark 20\n\nrule: p10-20\n\tsrc web\n\tdst db\n\taction deny\n");
        using var b = new HeadlessChromium();
        LogIn(b, api);
        b.Until("the web -> db cell", () => Cell(b, "web", "db").GetAttribute("data-partial") == "0");

        // web -> db allow tcp/5432 beside web -> db deny.
        Pick(b, "#rule-src", "web");
        Pick(b, "#rule-dst", "db");
        b.Find("#rule-proto").SendKeys("tcp");
        b.Find("#rule-dport").SendKeys("5432");
        Choose(b, "#rule-action", "allow");
        b.Find("#rule-submit").Click();
        b.Until("the port rule", () => b.FindAll("#rule-table tr[data-rule='p10-20-tcp5432']").Count == 1);
        Assert.Contains("tcp/5432", b.Find("#rule-table tr[data-rule='p10-20-tcp5432']").Text);
        Assert.Equal(new Service(Service.Tcp, new PortRange(5432, 5432)), api.Store.ReadPending().Config.Rules["p10-20-tcp5432"].Service);

        // The cell is partial: its hover gives the verdict of each service.
        b.Until("the partial cell", () => Cell(b, "web", "db").GetAttribute("data-partial") == "1");
        var cell = Cell(b, "web", "db");
        Assert.Equal("deny", cell.GetAttribute("data-verdict"));
        Assert.Equal("deny*", cell.Text);
        Assert.Equal("web → db: partial, it depends on the service\ntcp/5432: allow by rule p10-20-tcp5432\ntcp (other ports): deny by rule p10-20\nany other traffic: deny by rule p10-20",
            cell.GetAttribute("title"));
        Assert.Equal("0", Cell(b, "db", "web").GetAttribute("data-partial"));
        cell.Click();
        b.Until("the per-service listing", () => b.Find("#explain-services").Displayed && b.Find("#explain-services").Text.Contains("tcp/5432 allow p10-20-tcp5432"));
        Assert.Equal("web → db: deny (rule p10-20)", b.Find("#explain-summary").Text);
        // One service's answer.
        b.Find("#explain-proto").SendKeys("tcp");
        b.Find("#explain-dport").SendKeys("5432");
        b.Find("#explain-submit").Click();
        b.Until("the answer for tcp/5432", () => b.Find("#explain-summary").Text == "web → db tcp/5432: allow (rule p10-20-tcp5432)");
        b.Find("#explain-dport").Clear();
        b.Find("#explain-dport").SendKeys("22");
        b.Find("#explain-submit").Click();
        b.Until("the answer for tcp/22", () => b.Find("#explain-summary").Text == "web → db tcp/22: deny (rule p10-20)");
        b.Screenshot("partial-cell");

        // The group switches: set one off, then back to inherited.
        b.Find("#group-tree li[data-group='db'] .actions button.quiet").Click();
        Choose(b, "#group-stateful", "0");
        Choose(b, "#group-infra", "1");
        b.Find("#group-submit").Click();
        b.Until("stateful 0 in the file", () => api.Store.ReadPending().Config.Groups["db"] is { Stateful: false, Infra: true, Audit: null });
        b.Until("the switches in the tree", () => b.Find("#group-tree li[data-group='db'] .switches").Text == "stateful 0, infra 1");
        b.Find("#group-tree li[data-group='db'] .actions button.quiet").Click();
        Assert.Equal("0", b.Find("#group-stateful").GetAttribute("value"));
        Choose(b, "#group-stateful", "");
        b.Find("#group-submit").Click();
        b.Until("stateful inherited again", () => api.Store.ReadPending().Config.Groups["db"] is { Stateful: null, Infra: true });

        // A forwarder limited to two nodes, then to all.
        b.Find("#tabs button[data-tab='carriers']").Click();
        b.Find("#forwarder-name").SendKeys("fw0");
        b.Find("#forwarder-router").SendKeys("vmbr9");
        b.Find("#forwarder-physical").SendKeys("*");
        b.Find("#forwarder-nodes").SendKeys("node1,node2");
        b.Find("#forwarder-submit").Click();
        b.Until("the forwarder's nodes", () => b.FindAll("#forwarder-table tr[data-forwarder='fw0']").Count == 1
            && b.Find("#forwarder-table tr[data-forwarder='fw0']").Text.Contains("node1, node2"));
        Assert.Equal(["node1", "node2"], api.Store.ReadPending().Config.Forwarders["fw0"].Nodes);
        b.Find("#forwarder-table tr[data-forwarder='fw0'] button.quiet").Click();
        Assert.Equal("node1,node2", b.Find("#forwarder-nodes").GetAttribute("value"));
        b.Find("#forwarder-nodes").Clear();
        b.Find("#forwarder-submit").Click();
        b.Until("all nodes", () => b.Find("#forwarder-table tr[data-forwarder='fw0']").Text.Contains("(all nodes)"));
        Assert.Empty(api.Store.ReadPending().Config.Forwarders["fw0"].Nodes);
        b.Screenshot("forwarder-nodes");
    }
}
