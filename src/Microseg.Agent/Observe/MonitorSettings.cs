// How many verdict events a guest NIC may send per second, and in a burst: the token bucket the
// policy programs apply per NIC before they write to the events ring. A host setting, taken from
// the environment of the process that applies (microseg apply, the resident agent):
// MICROSEG_MONITOR_RATE (events/s, 0 = no events) and MICROSEG_MONITOR_BURST; 100/s and 200
// by default. The flags of monitor_config (new allowed flows) belong to the monitor.
using System.Globalization;
using Microseg.Bpf;
using Microseg.Bpf.Abi;

namespace Microseg.Agent.Observe;

public sealed record MonitorSettings(uint Rate, uint Burst)
{
    public const string RateVariable = "MICROSEG_MONITOR_RATE";
    public const string BurstVariable = "MICROSEG_MONITOR_BURST";

    public static readonly MonitorSettings Default = new(PolicyAbi.MonDefaultRate, PolicyAbi.MonDefaultBurst);

    /// <exception cref="AgentException">A variable that is not a whole number (names it).</exception>
    public static MonitorSettings FromEnvironment() => new(
        Read(RateVariable, Default.Rate, max: 1_000_000), Read(BurstVariable, Default.Burst, max: 1_000_000));

    private static uint Read(string variable, uint fallback, uint max)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text)) return fallback;
        if (!uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > max)
            throw new AgentException($"{variable}={Microseg.Policy.Text.Clip(text)}: not a whole number from 0 to {max.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    /// <summary>What the loaded programs use now (monitor_config), with its flags.</summary>
    /// <exception cref="AgentException">Nothing is loaded.</exception>
    public static MonitorConfig Current(AgentOptions options)
    {
        using var map = OpenConfig(options);
        return map.Lookup(0);
    }

    /// <summary>Sets or clears the "report new allowed flows" flag (MON_F_FLOWS), keeping rate
    /// and burst; returns the flags before.</summary>
    public static uint SetFlows(AgentOptions options, bool on)
    {
        using var map = OpenConfig(options);
        var current = map.Lookup(0);
        var flags = on ? current.Flags | PolicyAbi.MonFlagFlows : current.Flags & ~PolicyAbi.MonFlagFlows;
        map.Update(0, new MonitorConfig(current.Rate, current.Burst, flags));
        return current.Flags;
    }

    private static BpfArrayMap<MonitorConfig> OpenConfig(AgentOptions options)
    {
        var pin = new Policy.PolicyPins(options.BpffsFor(Policy.PolicySubsystem.SubsystemName)).MonitorConfig;
        if (!File.Exists(pin))
            throw new AgentException("the policy programs are not loaded on this host, or are from before verdict events (run 'microseg apply')");
        return BpfArrayMap<MonitorConfig>.OpenPinned(pin);
    }
}
