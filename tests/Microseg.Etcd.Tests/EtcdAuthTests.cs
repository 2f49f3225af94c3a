// etcd with authentication on: the store logs in with MICROSEG_ETCD_USER and its password, and a
// wrong password is a one-line error that names the store and says what to check.
using Microseg.Lab;
using Microseg.Policy;

namespace Microseg.Etcd.Tests;

public sealed class EtcdAuthTests
{
    [EtcdFact]
    public void A_user_and_password_reach_an_etcd_with_auth_and_a_wrong_password_says_so()
    {
        using var etcd = new LabEtcd(1);
        etcd.Ctl("user", "add", "root:rootpw");
        etcd.Ctl("user", "add", "microseg:s3cret");
        etcd.Ctl("role", "add", "microseg");
        etcd.Ctl("role", "grant-permission", "microseg", "--prefix=true", "readwrite", "/microseg/");
        etcd.Ctl("user", "grant-role", "microseg", "microseg");
        etcd.Ctl("auth", "enable");

        EtcdConfigStore Store(string password) => new(EtcdStoreOptions.Parse(etcd.Url, name => name switch
        {
            "MICROSEG_ETCD_USER" => "microseg",
            "MICROSEG_ETCD_PASSWORD" => password,
            _ => null,
        })) { CallTimeout = TimeSpan.FromSeconds(3) };

        using (var store = Store("s3cret"))
        {
            store.EditPending(c => c.Put(new Group("web", 1)));
            Assert.Equal(1, store.Commit().Snapshot.Version);
            Assert.Equal(1, store.ReadRunning()!.Version);
        }
        using var wrong = Store("nope");
        var e = Assert.ThrowsAny<Exception>(() => wrong.ReadPending());
        Assert.IsType<ConfigException>(e);
        Assert.Contains(etcd.Url, e.Message);
    }
}
