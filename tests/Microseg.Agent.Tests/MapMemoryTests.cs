// The verdict map's kernel memory figure, as status reads it: the "memlock:" line of fdinfo.
using Microseg.Bpf;

namespace Microseg.Agent.Tests;

public class MapMemoryTests
{
    [Fact]
    public void Memlock_is_read_from_fdinfo_text()
    {
        // Captured from /proc/self/fdinfo of a pinned verdicts map fd (Linux 6.18, a lab host
        // with a few words: the 16 MiB bucket array and little else).
        const string fdinfo = "pos:\t0\nflags:\t02000002\nmnt_id:\t17\nino:\t1038\nmap_type:\t1\nkey_size:\t4\nvalue_size:\t16\n" +
            "max_entries:\t1048576\nmap_flags:\t0x1\nmap_extra:\t0x0\nmemlock:\t16778272\nmap_id:\t6066\nfrozen:\t0\n";
        Assert.Equal(16_778_272L, MapMemory.ParseMemlock(fdinfo));
        Assert.Null(MapMemory.ParseMemlock("pos:\t0\nmap_type:\t1\n"));
    }
}
