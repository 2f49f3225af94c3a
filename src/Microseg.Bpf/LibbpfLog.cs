// Where libbpf's own messages go. By default libbpf writes warnings and info lines to stderr
// (several lines per failed load, next to our one-line BpfException); a host that wants one-line
// errors redirects them, e.g. into its logger at debug level.
using System.Runtime.InteropServices;
using System.Text;

namespace Microseg.Bpf;

/// <summary>enum libbpf_print_level.</summary>
public enum LibbpfLogLevel
{
    Warning = 0,
    Info = 1,
    Debug = 2,
}

public static class LibbpfLog
{
    private const int LineMax = 4096;
    private static readonly object gate = new();
    private static Action<LibbpfLogLevel, string>? sink;
    private static nint libbpfDefault;
    private static bool redirected;

    /// <summary>Sends libbpf's messages (one line each, without the newline) to
    /// <paramref name="messages"/>, or drops them when it is null. Process-wide, as libbpf's hook
    /// is. The sink must not throw: an exception cannot unwind through libbpf and is dropped.</summary>
    public static unsafe void Redirect(Action<LibbpfLogLevel, string>? messages)
    {
        lock (gate)
        {
            sink = messages;
            nint previous = Interop.Libbpf.libbpf_set_print(messages is null ? null : &Print);
            if (!redirected) libbpfDefault = previous;
            redirected = true;
        }
    }

    /// <summary>Gives libbpf its own stderr printer back.</summary>
    public static unsafe void Reset()
    {
        lock (gate)
        {
            if (!redirected) return;
            Interop.Libbpf.libbpf_set_print((delegate* unmanaged<int, byte*, nint, int>)libbpfDefault);
            sink = null;
            redirected = false;
        }
    }

    [UnmanagedCallersOnly]
    private static unsafe int Print(int level, byte* format, nint args)
    {
        var messages = sink;
        if (messages is null) return 0;
        byte* line = stackalloc byte[LineMax];
        int length = Interop.Libc.vsnprintf(line, LineMax, format, args);
        if (length < 0) return 0;
        string text = Encoding.UTF8.GetString(line, Math.Min(length, LineMax - 1)).TrimEnd('\n');
        try
        {
            messages((LibbpfLogLevel)level, text);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Unwinding into libbpf's C frames would kill the process; the message is lost instead.
        }
        return 0;
    }
}
