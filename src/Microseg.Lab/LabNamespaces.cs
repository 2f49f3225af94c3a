// What every lab (policy and carrier labs, the forwarder's lab) does with its network namespaces
// and state directory: create namespaces, mount a private bpffs, and remove all of it again.
using Microseg.Netlink;

namespace Microseg.Lab;

internal static class LabNamespaces
{
    /// <summary>A new namespace with lo up; with <paramref name="ipv6"/> false, IPv6 is off
    /// before any link comes up (no router solicitations or MLD reports on the lab's links).</summary>
    public static void Add(string name, bool ipv6 = true)
    {
        Shell.Ip("netns", "add", name);
        if (!ipv6)
            NetworkNamespace.Run(name, () =>
            {
                foreach (var scope in new[] { "all", "default" })
                    File.WriteAllText($"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", "1");
            });
        Shell.Ip("-n", name, "link", "set", "lo", "up");
    }

    /// <summary>A bpffs of the lab's own, outside /sys (`ip netns exec` remounts /sys).</summary>
    public static void MountBpffs(string path)
    {
        Directory.CreateDirectory(path);
        Shell.Check("mount", "-t", "bpf", "bpffs", path);
    }

    /// <summary>Deletes every namespace named <paramref name="prefix"/>…, unmounts whatever is
    /// mounted below <paramref name="directory"/> (deepest first) and deletes it. Safe on a
    /// half-built or absent lab.</summary>
    public static void RemoveAll(string prefix, string directory)
    {
        if (Directory.Exists(NetworkNamespace.NamedNamespacesDirectory))
            foreach (var ns in Directory.GetFiles(NetworkNamespace.NamedNamespacesDirectory).Select(Path.GetFileName))
                if (ns!.StartsWith(prefix, StringComparison.Ordinal)) Shell.Run("ip", "netns", "del", ns);
        if (!Directory.Exists(directory)) return;
        var below = directory.TrimEnd('/') + "/";
        // /proc/self/mounts escapes blanks in mount points as octal; lab paths have none.
        foreach (var mount in File.ReadLines("/proc/self/mounts").Select(l => l.Split(' ')[1])
                     .Where(m => m.StartsWith(below, StringComparison.Ordinal)).OrderByDescending(m => m.Length))
            Shell.Run("umount", mount);
        Directory.Delete(directory, recursive: true);
    }
}
