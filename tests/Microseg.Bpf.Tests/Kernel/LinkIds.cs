// Whether the kernel still has a link of a given id (BPF_LINK_GET_FD_BY_ID): a link that was
// released is gone from the id table.
using System.Runtime.InteropServices;

namespace Microseg.Bpf.Tests.Kernel;

internal static partial class LinkIds
{
    public static bool Exists(uint id)
    {
        int fd = bpf_link_get_fd_by_id(id);
        if (fd >= 0)
        {
            close(fd);
            return true;
        }
        Assert.Equal(-Errno.ENOENT, fd);
        return false;
    }

    [LibraryImport("libbpf.so.1")]
    private static partial int bpf_link_get_fd_by_id(uint id);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
