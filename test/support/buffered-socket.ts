/**
 * A TCP connection for test clients that buffers everything received and lets a reader wait,
 * bounded, until a check on the buffer succeeds. The RESP test clients (test/support/clients/resp.ts,
 * test/unit/sentinel/helpers.ts) build their parsing on it.
 */
import { connect, type Socket } from 'node:net';

export class BufferedSocket {
  protected buf = Buffer.alloc(0);
  protected ended = false;
  private wake: (() => void) | null = null;

  protected constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  /** A connected socket with Nagle off, for a subclass constructor. */
  protected static async dial(port: number, host: string): Promise<Socket> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    return socket;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Until data arrives or the connection closes, at most `ms`. */
  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(1, ms));
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Re-run `check` on every arrival until it returns a value; throws after `timeoutMs`. */
  protected async waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what} (${timeoutMs} ms); buffered: ${JSON.stringify(this.buf.toString('latin1'))}`,
        );
      }
      await this.idle(left);
    }
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Wait until the server closes the connection (bounded); whether it did. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await this.idle(deadline - Date.now());
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}
