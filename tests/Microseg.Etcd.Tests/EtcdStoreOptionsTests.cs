// --store etcd://... and the MICROSEG_ETCD_* variables: endpoints, prefix, TLS and user.
namespace Microseg.Etcd.Tests;

public sealed class EtcdStoreOptionsTests
{
    private static EtcdStoreOptions Parse(string store, params (string, string)[] env) =>
        EtcdStoreOptions.Parse(store, name => env.FirstOrDefault(e => e.Item1 == name).Item2);

    [Fact]
    public void Endpoints_and_the_default_prefix()
    {
        var o = Parse("etcd://10.0.0.1:2379,10.0.0.2:2379");
        Assert.Equal(["10.0.0.1:2379", "10.0.0.2:2379"], o.Endpoints);
        Assert.Equal("/microseg/", o.Prefix);
        Assert.Equal("http://10.0.0.1:2379,http://10.0.0.2:2379", o.ConnectionString);
        Assert.Equal("etcd://10.0.0.1:2379,10.0.0.2:2379/microseg/", o.Description);
    }

    [Fact]
    public void A_prefix_in_the_url_or_the_environment_and_tls_from_the_environment()
    {
        Assert.Equal("/site-a/", Parse("etcd://h:2379/site-a").Prefix);
        var o = Parse("etcd://h:2379/site-a", ("MICROSEG_ETCD_PREFIX", "/other/"), ("MICROSEG_ETCD_CACERT", "/etc/ca.pem"));
        Assert.Equal("/other/", o.Prefix);
        Assert.True(o.Tls);
        Assert.Equal("https://h:2379", o.ConnectionString);
    }

    [Theory]
    [InlineData("etcd://", "is not HOST:PORT")]
    [InlineData("etcd://h", "'h' is not HOST:PORT")]
    [InlineData("etcd://h:99999", "'h:99999' is not HOST:PORT")]
    [InlineData("/etc/microseg", "not an etcd store")]
    public void Bad_urls_say_which_part_is_wrong(string store, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => Parse(store)).Message);

    [Fact]
    public void A_user_needs_a_password_and_a_certificate_its_key()
    {
        Assert.Contains("MICROSEG_ETCD_PASSWORD", Assert.Throws<ArgumentException>(() => Parse("etcd://h:1", ("MICROSEG_ETCD_USER", "root"))).Message);
        Assert.Contains("go together", Assert.Throws<ArgumentException>(() => Parse("etcd://h:1", ("MICROSEG_ETCD_CERT", "c.pem"))).Message);
        Assert.Equal("root", Parse("etcd://h:1", ("MICROSEG_ETCD_USER", "root"), ("MICROSEG_ETCD_PASSWORD", "pw")).User);
    }
}
