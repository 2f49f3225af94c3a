// A large estate as a user would write it: one parent group with many children (the tenants),
// a parent of the destination groups (the services), and one rule from the tenants' parent to
// each service. Marks are given, so ids are known: tenants 1, services 2, service N 10+N,
// tenant N 100+N.
using System.Text;

namespace Microseg.Api.Tests;

public static class LargeConfig
{
    public static string Tenant(int n) => $"t{n:D5}";

    public static string Service(int n) => $"s{n:D2}";

    /// <summary>The id of the rule tenants -> service N.</summary>
    public static string RuleTo(int service) => $"p1-{10 + service}";

    public static string Text(int tenants, int services)
    {
        var sb = new StringBuilder();
        sb.Append("group: services\n\tmark 2\n\n");
        sb.Append("group: tenants\n\tmark 1\n\n");
        for (int s = 1; s <= services; s++) sb.Append($"group: {Service(s)}\n\tmark {10 + s}\n\tparent services\n\n");
        for (int t = 1; t <= tenants; t++) sb.Append($"group: {Tenant(t)}\n\tmark {100 + t}\n\tparent tenants\n\n");
        for (int s = 1; s <= services; s++) sb.Append($"rule: {RuleTo(s)}\n\tsrc tenants\n\tdst {Service(s)}\n\taction allow\n\n");
        return sb.ToString();
    }
}
