// MICROSEG_CONFIG_DIR chooses the config directory when --config-dir is not given. The
// environment is process-wide, so these tests run alone (every other test passes --config-dir).
using Microseg.Policy;
using Microseg.TestSupport;

namespace Microseg.Cli.Tests;

[CollectionDefinition(nameof(ProcessEnvironment), DisableParallelization = true)]
public sealed class ProcessEnvironment;

[Collection(nameof(ProcessEnvironment))]
public sealed class ConfigDirEnvironmentTests : IDisposable
{
    private const string Variable = "MICROSEG_CONFIG_DIR";
    private readonly string? saved = Environment.GetEnvironmentVariable(Variable);
    private readonly TempDirectory envDir = new();
    private readonly TempDirectory optionDir = new();

    public ConfigDirEnvironmentTests() => Environment.SetEnvironmentVariable(Variable, envDir.Path);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(Variable, saved);
        envDir.Dispose();
        optionDir.Dispose();
    }

    [Fact]
    public void Environment_variable_is_the_config_directory()
    {
        var r = Cli.Run("group", "add", "web");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Equal("group: web\n\tmark 1\n", File.ReadAllText(envDir.File(DirectoryConfigStore.PendingFileName)));
        r = Cli.Run("commit");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.True(File.Exists(envDir.File(DirectoryConfigStore.RunningFileName)));
        Assert.Contains("web", Cli.Run("group", "list").Out);
    }

    [Fact]
    public void Config_dir_option_wins_over_the_environment()
    {
        var r = Cli.Run("group", "add", "web", "--config-dir", optionDir.Path);
        Assert.True(r.Exit == 0, r.ToString());
        Assert.True(File.Exists(optionDir.File(DirectoryConfigStore.PendingFileName)));
        Assert.False(File.Exists(envDir.File(DirectoryConfigStore.PendingFileName)));
    }
}
