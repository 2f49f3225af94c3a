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
}
