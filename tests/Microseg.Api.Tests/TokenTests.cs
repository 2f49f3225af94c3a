// `microseg token add|list|del`: the secret is printed once and stored only as a hash, in a
// file only its owner can read; a running server sees additions and deletions at once.
using System.Net;
using System.Text.Json;
using Microseg.Api.Auth;
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Api.Tests;

public sealed class TokenTests
{
    [Fact]
    public void Add_prints_the_secret_once_and_stores_only_a_hash_in_a_private_file()
    {
        using var dir = new TempDirectory();
        var add = MicrosegCli.Run(dir.Path, "token", "add", "root@pam!ui", "--privileges", "SDN.Audit,SDN.Allocate", "--comment", "web UI");
        Assert.True(add.Exit == 0, add.Err);
        var secret = add.Out.Trim();
        Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", secret);
        Assert.Contains("PVEAPIToken=root@pam!ui=SECRET", add.Err);

        var file = Path.Combine(dir.Path, DirectoryConfigStore.TokensFileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.DoesNotContain(secret, File.ReadAllText(file));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));

        var list = MicrosegCli.Run(dir.Path, "token", "list", "--json");
        Assert.Equal(0, list.Exit);
        Assert.DoesNotContain(secret, list.Out);
        var token = JsonDocument.Parse(list.Out).RootElement.GetProperty("data").EnumerateArray().Single();
        Assert.Equal("root@pam!ui", token.Str("id"));
        Assert.Equal(["SDN.Audit", "SDN.Allocate"], token.GetProperty("privileges").EnumerateArray().Select(p => p.GetString()!));
        Assert.Equal("web UI", token.Str("comment"));
        Assert.Contains("root@pam!ui  SDN.Audit,SDN.Allocate", MicrosegCli.Run(dir.Path, "token", "list").Out);

        var store = new TokenStore(new DirectoryConfigStore(dir.Path));
        Assert.NotNull(store.Verify("root@pam!ui", secret));
        Assert.Null(store.Verify("root@pam!ui", secret.Replace(secret[0], secret[0] == 'a' ? 'b' : 'a')));
        Assert.Null(store.Verify("root@pam!other", secret));

        var again = MicrosegCli.Run(dir.Path, "token", "add", "root@pam!ui", "--privileges", "SDN.Audit");
        Assert.Equal(1, again.Exit);
        Assert.Contains("already exists", again.Err);
        Assert.Equal("", again.Out);
    }

    [Theory]
    [InlineData("root@pam", "SDN.Audit", "invalid token id")]
    [InlineData("root!ui", "SDN.Audit", "invalid token id")]
    [InlineData("root@pam!ui", "SDN.Admin", "unknown privilege 'SDN.Admin'")]
    public void Bad_ids_and_privileges_are_refused(string id, string privileges, string message)
    {
        using var dir = new TempDirectory();
        var r = MicrosegCli.Run(dir.Path, "token", "add", id, "--privileges", privileges);
        Assert.Equal(1, r.Exit);
        Assert.Contains(message, r.Err);
        Assert.Equal("", r.Out);
        Assert.False(File.Exists(Path.Combine(dir.Path, DirectoryConfigStore.TokensFileName)));
    }

    [Fact]
    public async Task A_running_server_sees_tokens_added_and_deleted_by_the_cli()
    {
        await using var api = await ApiHost.StartAsync();
        var secret = MicrosegCli.Run(api.ConfigDir, "token", "add", "ops@pve!cli", "--privileges", "SDN.Audit").Out.Trim();
        var token = $"ops@pve!cli={secret}";
        Assert.Equal(HttpStatusCode.OK, (await api.Get("status", token)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await api.Post("group", new { id = "web" }, token)).Status);

        var del = MicrosegCli.Run(api.ConfigDir, "token", "del", "ops@pve!cli");
        Assert.Equal(0, del.Exit);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.Get("status", token)).Status);
        Assert.Equal(1, MicrosegCli.Run(api.ConfigDir, "token", "del", "ops@pve!cli").Exit);
    }
}
