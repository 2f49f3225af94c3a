// Builds the two packages the dpkg tests install, once per run, through the real `make deb`:
// the tree's build, and the VARIANT=1 build whose embedded policy object is the variant
// (another program fingerprint), with a higher version so that installing it is an upgrade.
using Microseg.TestSupport;

namespace Microseg.Packaging.Tests;

public sealed class Packages
{
    private static readonly Lazy<(string Normal, string Variant)> built = new(Build);

    public static string Normal => built.Value.Normal;

    public static string Variant => built.Value.Variant;

    public const string NormalVersion = "0.0.1~pkgtest1";
    public const string VariantVersion = "0.0.1~pkgtest2";

    private static (string, string) Build() => (Make(NormalVersion), Make(VariantVersion, "VARIANT=1"));

    private static string Make(string version, params string[] extra)
    {
        var r = Sh.Run("make", ["-s", "-C", RepoPaths.Root, "deb", $"DEB_VERSION={version}", .. extra]);
        Assert.True(r.Exit == 0, r.ToString());
        var deb = r.Out.Trim().Split('\n')[^1].Trim();
        var path = Path.IsPathRooted(deb) ? deb : Path.Combine(RepoPaths.Root, deb);
        Assert.True(File.Exists(path), $"make deb printed {deb}, which does not exist\n{r}");
        return path;
    }
}
