// The repository's examples/microseg.cfg (SPEC §4's worked example), copied beside the tests.
using Microseg.Policy;

namespace Microseg.Policy.Tests;

internal static class Examples
{
    public static string WorkedExamplePath => Path.Combine(AppContext.BaseDirectory, "examples", "microseg.cfg");

    public static byte[] WorkedExampleBytes => File.ReadAllBytes(WorkedExamplePath);

    public static PolicyConfig WorkedExample => SectionConfig.Parse(WorkedExampleBytes, "microseg.cfg");
}
