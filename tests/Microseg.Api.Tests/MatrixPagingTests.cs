// GET .../matrix with a filter (a subtree of sources and of destinations) and pages: the pages
// put together are the filtered matrix, each cell as explain gives it; bad filters and numbers
// are 400 under the parameter; a config of 20,000 groups answers a page, never groups².
using System.Net;
using System.Text.Json;
using Microseg.Policy;

namespace Microseg.Api.Tests;

public sealed class MatrixPagingTests
{
    private static readonly string Example = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", "microseg.cfg"));

    private static IEnumerable<(string Src, string Dst, string Verdict, string? Rule)> Cells(JsonElement data) =>
        data.GetProperty("matrix").EnumerateArray().Select(c => (c.Str("src")!, c.Str("dst")!, c.Str("verdict")!, c.Str("rule")));

    private static string[] Groups(JsonElement data) => [.. data.GetProperty("groups").EnumerateArray().Select(g => g.GetString()!)];

    [Fact]
    public async Task A_subtree_filter_lists_that_subtree_of_sources_and_destinations()
    {
        await using var api = await ApiHost.StartAsync(Example);

        var r = await api.Get("matrix?src=web&dst=db");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        Assert.Equal(["db"], Groups(r.Data));
        Assert.Equal(
            [("web", "db", "allow", "p10-20"), ("wiki", "db", "allow", "p10-20"), ("wol", "db", "allow", "p10-20")],
            Cells(r.Data));
        Assert.Equal(3, r.Body.Int("total"));
        Assert.Equal(3, r.Body.Int("sources"));
        Assert.Equal(1, r.Body.Int("destinations"));

        // Destinations below web: the inherited allow and wol's own deny, as explain has them.
        r = await api.Get("matrix?src=db&dst=web");
        Assert.Equal(["web", "wiki", "wol"], Groups(r.Data));
        Assert.Equal(
            [("db", "web", "allow", "p20-10"), ("db", "wiki", "allow", "p20-10"), ("db", "wol", "deny", "p20-12")],
            Cells(r.Data));

        // A leaf is its own subtree; untagged is a source of its own.
        r = await api.Get("matrix?src=untagged");
        Assert.Equal(4, r.Body.Int("total"));
        Assert.All(Cells(r.Data), c => Assert.Equal(("untagged", "deny", (string?)null), (c.Src, c.Verdict, c.Rule)));
        r = await api.Get("matrix?src=wiki&dst=wol");
        Assert.Equal([("wiki", "wol", "deny", (string?)null)], Cells(r.Data));

        // Every cell of a filtered matrix is what explain says about that pair.
        foreach (var c in Cells((await api.Get("matrix?dst=web")).Data))
        {
            var e = await api.Ok(HttpMethod.Get, $"explain?src={c.Src}&dst={c.Dst}");
            Assert.Equal((e.Str("verdict"), e.Str("rule")), (c.Verdict, c.Rule));
        }
    }

    [Fact]
    public async Task Pages_put_together_are_the_whole_matrix()
    {
        await using var api = await ApiHost.StartAsync(Example);
        var whole = await api.Get("matrix");
        Assert.Equal(20, whole.Body.Int("total"));
        Assert.Equal(0, whole.Body.Int("start"));
        var all = Cells(whole.Data).ToList();
        Assert.Equal(20, all.Count);

        foreach (var limit in new[] { 1, 3, 4, 7, 19 })
        {
            var joined = new List<(string, string, string, string?)>();
            for (var start = 0; start < 20; start += limit)
            {
                var page = await api.Get($"matrix?start={start}&limit={limit}");
                Assert.Equal(20, page.Body.Int("total"));
                var cells = Cells(page.Data).ToList();
                Assert.Equal(Math.Min(limit, 20 - start), cells.Count);
                // The page's groups are the columns its cells cover, in column order.
                Assert.Equal(Groups(whole.Data).Where(g => cells.Any(c => c.Dst == g)), Groups(page.Data));
                joined.AddRange(cells);
            }
            Assert.Equal(all, joined);
        }

        // Past the end: an empty page, with the total.
        var beyond = await api.Get("matrix?start=20");
        Assert.Empty(Cells(beyond.Data));
        Assert.Empty(Groups(beyond.Data));
        Assert.Equal(20, beyond.Body.Int("total"));
        // Parameters in a JSON body page as in the query string (numbers as numbers).
        var body = await api.Send(HttpMethod.Get, "matrix", new { src = "db", start = 2, limit = 2 }, api.Admin);
        Assert.Equal(Cells((await api.Get("matrix?src=db&start=2&limit=2")).Data), Cells(body.Data));
        Assert.Equal([("db", "wiki", "allow", "p20-10"), ("db", "wol", "deny", "p20-12")], Cells(body.Data));
    }

    [Theory]
    [InlineData("src=nope", "src", "unknown source group 'nope'")]
    [InlineData("dst=nope", "dst", "unknown destination group 'nope'")]
    [InlineData("dst=untagged", "dst", "'untagged' is a source only")]
    [InlineData("start=-1", "start", "must be 0 or more")]
    [InlineData("start=x", "start", "'x' is not a whole number")]
    [InlineData("limit=0", "limit", "must be 1 to 100000 cells")]
    [InlineData("limit=100001", "limit", "must be 1 to 100000 cells")]
    [InlineData("limit=1.5", "limit", "not a whole number")]
    [InlineData("rows=3", "rows", "unknown parameter")]
    public async Task A_bad_filter_or_number_is_400_under_its_parameter(string query, string field, string problem)
    {
        await using var api = await ApiHost.StartAsync(Example);
        var r = await api.Get($"matrix?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(problem, r.Error(field));
        Assert.Contains(field, r.Body.Str("message"));
    }

    [Fact]
    public async Task Twenty_thousand_groups_answer_a_page_not_the_whole_matrix()
    {
        const int tenants = 20_000, services = 60;
        await using var api = await ApiHost.StartAsync(LargeConfig.Text(tenants, services));
        const long groups = tenants + services + 2;

        // No filter: the default page, and the size of the whole.
        var r = await api.Get("matrix");
        Assert.Equal(HttpStatusCode.OK, r.Status);
        Assert.Equal((groups + 1) * groups, r.Body.Int("total"));
        Assert.Equal(10_000, r.Data.GetProperty("matrix").GetArrayLength());
        Assert.Equal(10_000, Groups(r.Data).Length);
        Assert.True(r.Text.Length < 1_000_000, $"the default page is {r.Text.Length} bytes");

        // The tenants' subtree against the services' subtree: 20,001 x 61, paged by rows.
        r = await api.Get("matrix?src=tenants&dst=services&start=" + 61 * 4242 + "&limit=122");
        Assert.Equal((tenants + 1) * (services + 1L), r.Body.Int("total"));
        Assert.Equal(tenants + 1, r.Body.Int("sources"));
        Assert.Equal(services + 1, r.Body.Int("destinations"));
        var cells = Cells(r.Data).ToList();
        Assert.Equal(122, cells.Count);
        // In name order (ordinal: "t00001" < "tenants"), row 4242 is t04243, column 0 is s01
        // and the last one the services' parent itself.
        Assert.All(cells.Take(61), c => Assert.Equal(LargeConfig.Tenant(4243), c.Src));
        Assert.All(cells.Skip(61), c => Assert.Equal(LargeConfig.Tenant(4244), c.Src));
        Assert.Equal((LargeConfig.Service(7), "allow", LargeConfig.RuleTo(7)), (cells[6].Dst, cells[6].Verdict, cells[6].Rule));
        Assert.Equal(("services", "deny", (string?)null), (cells[60].Dst, cells[60].Verdict, cells[60].Rule));
        Assert.Equal([.. Enumerable.Range(1, services).Select(LargeConfig.Service), "services"], Groups(r.Data));

        // One tenant to the services: allowed by the parent's rules; the reverse is denied.
        r = await api.Get($"matrix?src={LargeConfig.Tenant(19_999)}&dst=services");
        Assert.Equal(61, r.Body.Int("total"));
        Assert.Equal(60, Cells(r.Data).Count(c => c.Verdict == "allow"));
        r = await api.Get($"matrix?src=services&dst={LargeConfig.Tenant(19_999)}");
        Assert.All(Cells(r.Data), c => Assert.Equal("deny", c.Verdict));
        Assert.Equal(61, r.Body.Int("total"));
    }
}
