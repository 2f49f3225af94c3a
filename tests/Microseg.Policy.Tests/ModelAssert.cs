// Model equality for configs: the same objects in the same order and the same comments.
using Microseg.Policy;

namespace Microseg.Policy.Tests;

internal static class ModelAssert
{
    public static void SameObjects(PolicyConfig expected, PolicyConfig actual)
    {
        Assert.Equal(expected.Objects.ToList(), actual.Objects.ToList());
    }

    public static void SameModel(PolicyConfig expected, PolicyConfig actual)
    {
        SameObjects(expected, actual);
        Assert.Equal(
            expected.Comments.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, string.Join("\n", kv.Value))),
            actual.Comments.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, string.Join("\n", kv.Value))));
        Assert.Equal(expected.TrailingComments.ToArray(), actual.TrailingComments.ToArray());
    }
}
