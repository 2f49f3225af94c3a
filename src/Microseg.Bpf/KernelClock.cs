// The kernel's clocks as BPF programs see them, to turn their timestamps into wall-clock time.
namespace Microseg.Bpf;

public static class KernelClock
{
    /// <summary>CLOCK_MONOTONIC now, in nanoseconds: the clock of bpf_ktime_get_ns().</summary>
    public static unsafe ulong MonotonicNanoseconds()
    {
        Interop.Libc.Timespec now;
        NativeResult.CheckLibc(Interop.Libc.clock_gettime(Interop.Libc.CLOCK_MONOTONIC, &now), "read CLOCK_MONOTONIC");
        return (ulong)now.tv_sec * 1_000_000_000UL + (ulong)now.tv_nsec;
    }

    /// <summary>Converts bpf_ktime_get_ns() timestamps to wall-clock time, from one reading of
    /// both clocks taken at creation (later wall-clock steps are not followed).</summary>
    public sealed class MonotonicToWall
    {
        private readonly DateTimeOffset wallAtStart;
        private readonly ulong monotonicAtStart;

        public MonotonicToWall()
        {
            monotonicAtStart = MonotonicNanoseconds();
            wallAtStart = DateTimeOffset.UtcNow;
        }

        public DateTimeOffset Convert(ulong monotonicNanoseconds)
        {
            long delta = unchecked((long)(monotonicNanoseconds - monotonicAtStart));
            return wallAtStart.AddTicks(delta / 100);
        }
    }
}
