// The one exception Microseg.Bpf throws for kernel and libbpf failures. Its message is one line:
// what we tried, on what, errno name and text, and a hint when there is one.
namespace Microseg.Bpf;

public sealed class BpfException : Exception
{
    public BpfException(string message) : base(message) { }

    public BpfException(string message, Exception inner) : base(message, inner) { }

    private BpfException(string message, int errno, string? verifierLog) : base(message)
    {
        Errno = errno;
        VerifierLog = verifierLog;
    }

    /// <summary>The errno of the failed call, 0 when the failure was not a system call's.</summary>
    public int Errno { get; }

    /// <summary>The kernel verifier's log when a program load failed and the kernel gave one.</summary>
    public string? VerifierLog { get; }

    /// <summary><c>{what}: {ENAME} ({text})[; {hint}]</c>, e.g.
    /// <c>attach tcx egress to ifindex 7: EEXIST (File exists)</c>.</summary>
    public static BpfException FromErrno(int errno, string what, string? hint = null, string? verifierLog = null)
    {
        var message = $"{what}: {Microseg.Bpf.Errno.Name(errno)} ({Microseg.Bpf.Errno.Describe(errno)})";
        if (!string.IsNullOrEmpty(hint)) message += $"; {hint}";
        return new BpfException(message, errno, verifierLog);
    }
}
