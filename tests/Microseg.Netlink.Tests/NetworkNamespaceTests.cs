// Argument and not-found handling of NetworkNamespace.Run that needs no privileges.
namespace Microseg.Netlink.Tests;

public class NetworkNamespaceTests
{
    [Fact]
    public void A_missing_namespace_is_a_one_line_ENOENT()
    {
        var e = Assert.Throws<NetlinkException>(() => NetworkNamespace.Run("microseg-no-such-ns", () => 1));
        Assert.Equal("open network namespace /run/netns/microseg-no-such-ns: ENOENT (No such file or directory)", e.Message);
        Assert.Equal("ENOENT", e.ErrnoName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    public void Names_that_are_not_names_are_rejected(string name)
    {
        Assert.ThrowsAny<ArgumentException>(() => NetworkNamespace.Run(name, () => 1));
    }
}
