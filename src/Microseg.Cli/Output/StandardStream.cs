// stdout and stderr as plain write(2) on fds 1 and 2. Not System.Console: on a terminal it first
// switches the terminal to keypad mode (writes ESC [?1h ESC =), noise in a one-shot tool's
// output. Not FileStream: on a regular file it writes at its own remembered offset (pwrite), so
// `microseg ... >log 2>&1` would have stdout and stderr overwrite each other.
using System.Runtime.InteropServices;

namespace Microseg.Cli.Output;

internal sealed class StandardStream(int fd) : Stream
{
    public static TextWriter Writer(int fd) =>
        new StreamWriter(new StandardStream(fd), new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: false)
        {
            AutoFlush = true,
        };

    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = Interop.Libc.write(fd, start + done, buffer.Length - done);
                if (n >= 0) { done += (int)n; continue; }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Interop.Libc.EINTR) continue;
                // The reader went away (`microseg ... | head`): the rest is not wanted, as System.Console does.
                if (errno == Interop.Libc.EPIPE) return;
                throw new IOException($"write to fd {fd}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush() { }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
