// Log lines on stderr in the format journald reads ("<6>microseg.policy: message"), written
// synchronously. A plain provider instead of the console logger: the plug path runs once per
// guest NIC event, and the console logger's DI container, options and queue thread cost it
// ~15 ms of start-up (measured with bench `plug`).
using Microsoft.Extensions.Logging;

namespace Microseg.Cli.Output;

public sealed class JournalLoggerProvider(TextWriter stderr, LogLevel minimum) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new JournalLogger(stderr, minimum, categoryName);

    public void Dispose() { }

    private sealed class JournalLogger(TextWriter stderr, LogLevel minimum, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"<{Priority(logLevel)}>{category}: {formatter(state, exception)}";
            if (exception is not null) line += $": {exception.GetType().Name}: {exception.Message}";
            lock (stderr) stderr.WriteLine(line.ReplaceLineEndings(" "));
        }

        // syslog priorities, as journald's stderr parser expects them.
        private static int Priority(LogLevel level) => level switch
        {
            LogLevel.Critical => 2,
            LogLevel.Error => 3,
            LogLevel.Warning => 4,
            LogLevel.Information => 6,
            _ => 7,
        };
    }
}
