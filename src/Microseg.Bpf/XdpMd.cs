// struct xdp_md, the context of XDP programs, as BPF_PROG_TEST_RUN takes it in.
using System.Runtime.InteropServices;

namespace Microseg.Bpf;

/// <summary>
/// For a test run, Data (the metadata length) is 0, DataEnd the frame's length and DataMeta 0;
/// IngressIfIndex names an interface of the caller's network namespace (0: none) and
/// RxQueueIndex one of its receive queues; EgressIfIndex must be 0.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct XdpMd
{
    public uint Data;
    public uint DataEnd;
    public uint DataMeta;
    public uint IngressIfIndex;
    public uint RxQueueIndex;
    public uint EgressIfIndex;
}
