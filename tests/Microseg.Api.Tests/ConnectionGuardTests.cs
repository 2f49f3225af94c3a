// The slots `serve` takes before it accepts a connection (ConnectionGuard), without sockets:
// past the bound an accept waits rather than failing, a slot given back goes to the accept
// waiting, and a flood is said once when it starts and once when it is over.
using Microseg.Api.Hosting;
using Microsoft.Extensions.Logging;

namespace Microseg.Api.Tests;

public sealed class ConnectionGuardTests
{
    private sealed class Lines : ILogger
    {
        private readonly List<string> lines = [];
        public string[] All { get { lock (lines) return [.. lines]; } }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (lines) lines.Add(formatter(state, exception));
        }
    }

    private static ConnectionGuard Guard(int limit, Lines log) => new(256) { Limit = limit, Log = log, Quiet = TimeSpan.FromMilliseconds(200) };

    private static async Task<string> Eventually(Lines log, string start)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (log.All.FirstOrDefault(l => l.StartsWith(start, StringComparison.Ordinal)) is { } line) return line;
            await Task.Delay(20);
        }
        throw new Xunit.Sdk.XunitException($"no line starting \"{start}\": {string.Join("\n", log.All)}");
    }

    [Fact]
    public async Task Past_the_bound_an_accept_waits_for_a_slot_given_back()
    {
        var log = new Lines();
        var guard = Guard(8, log);
        for (var i = 0; i < 8; i++) Assert.True(guard.TakeAsync(CancellationToken.None).IsCompletedSuccessfully);
        Assert.Empty(log.All);

        var ninth = guard.TakeAsync(CancellationToken.None).AsTask();
        var tenth = guard.TakeAsync(CancellationToken.None).AsTask();
        Assert.False(ninth.IsCompleted);
        Assert.Equal(8, guard.Open);
        Assert.Single(log.All, l => l.StartsWith("connection limit reached: 8 connections open", StringComparison.Ordinal));

        guard.Release();
        await ninth.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(tenth.IsCompleted);
        // The eleventh queues before the tenth gets its slot: some accept waits all along (the
        // guard looks every 200 ms; a look between two waits would end the flood).
        var eleventh = guard.TakeAsync(CancellationToken.None).AsTask();
        guard.Release();
        await tenth.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(8, guard.Open);
        Assert.False(eleventh.IsCompleted);

        // While an accept waits, the flood goes on, however long; said once.
        await Task.Delay(500);
        Assert.DoesNotContain(log.All, l => l.StartsWith("connection flood over", StringComparison.Ordinal));
        guard.Release();
        await eleventh.WaitAsync(TimeSpan.FromSeconds(5));

        // Over once no accept has waited for a while, said once, with what happened meanwhile.
        for (var i = 0; i < 8; i++) guard.Release();
        var over = await Eventually(log, "connection flood over");
        Assert.Contains("3 connections were accepted from the listen backlog as others closed; 0 open", over);
        Assert.Equal(0, guard.Open);
        await Task.Delay(500);
        Assert.Equal(2, log.All.Length);
    }

    [Fact]
    public async Task A_cancelled_wait_takes_no_slot()
    {
        var log = new Lines();
        var guard = Guard(8, log);
        for (var i = 0; i < 8; i++) await guard.TakeAsync(CancellationToken.None);
        using var unbind = new CancellationTokenSource();
        var waiting = guard.TakeAsync(unbind.Token).AsTask();
        await unbind.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        guard.Release();
        Assert.Equal(7, guard.Open);
        Assert.True(guard.TakeAsync(CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public async Task A_bound_raised_lets_waiting_accepts_through()
    {
        var guard = Guard(8, new Lines());
        for (var i = 0; i < 8; i++) await guard.TakeAsync(CancellationToken.None);
        var waiting = guard.TakeAsync(CancellationToken.None).AsTask();
        guard.Limit = 9;
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(9, guard.Open);
    }

    [Theory]
    [InlineData(256, 150, 21)]
    [InlineData(1024, 150, 405)]
    [InlineData(65536, 150, ConnectionGuard.MaxConnections)]
    [InlineData(200, 150, 8)]
    public void The_bound_leaves_the_reserve_and_half_the_rest_to_files(long openFiles, int openNow, int bound) =>
        Assert.Equal(bound, ConnectionGuard.LimitFor(openFiles, openNow));
}
