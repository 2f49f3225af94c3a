// `GET .../pending`: what a commit would change, object by object (pending vs running).
using Microseg.Policy;

namespace Microseg.Api.Endpoints;

public enum ChangeKind { Added, Modified, Deleted }

public sealed record ObjectChange(ObjectType Type, string Id, ChangeKind Kind, IConfigObject? Pending, IConfigObject? Running);

public static class PendingDiff
{
    /// <summary>Changes in written order (by type, then id). Nothing committed yet: everything is added.</summary>
    public static IReadOnlyList<ObjectChange> Compute(PolicyConfig pending, PolicyConfig? running)
    {
        running ??= PolicyConfig.Empty;
        var changes = new List<ObjectChange>();
        var keys = pending.Objects.Concat(running.Objects).Select(o => (o.Type, o.Id)).Distinct()
            .OrderBy(k => k.Type).ThenBy(k => k.Id, StringComparer.Ordinal);
        foreach (var (type, id) in keys)
        {
            var p = pending.Find(type, id);
            var r = running.Find(type, id);
            if (p is not null && r is null) changes.Add(new ObjectChange(type, id, ChangeKind.Added, p, null));
            else if (p is null && r is not null) changes.Add(new ObjectChange(type, id, ChangeKind.Deleted, null, r));
            else if (!Equals(p, r)) changes.Add(new ObjectChange(type, id, ChangeKind.Modified, p, r));
        }
        return changes;
    }

    public static string Word(this ChangeKind kind) => kind switch
    {
        ChangeKind.Added => "added",
        ChangeKind.Modified => "modified",
        _ => "deleted",
    };
}
