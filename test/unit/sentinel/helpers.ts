/** Test helpers for the Sentinel port: a raw RESP client that reads replies byte-exactly. */
import { encodeCommand } from '../../../src/sentinel/resp.js';
import { SentinelServer, type SentinelServerOptions } from '../../../src/sentinel/server.js';
import { BufferedSocket } from '../../support/buffered-socket.js';

/** End offset of the complete RESP2/RESP3 reply starting at `at`, or -1 if incomplete. */
export function replyEnd(buf: Buffer, at: number): number {
  if (at >= buf.length) return -1;
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return -1;
  const type = String.fromCharCode(buf[at] as number);
  const header = buf.toString('latin1', at + 1, nl);
  const afterLine = nl + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return afterLine;
    case '$':
    case '=':
    case '!': {
      const n = Number(header);
      if (n < 0) return afterLine;
      return buf.length >= afterLine + n + 2 ? afterLine + n + 2 : -1;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      let n = Number(header);
      if (n < 0) return afterLine;
      if (type === '%' || type === '|') n *= 2;
      let pos = afterLine;
      for (let i = 0; i < n; i++) {
        pos = replyEnd(buf, pos);
        if (pos < 0) return -1;
      }
      return pos;
    }
    default:
      throw new Error(
        `unexpected reply type byte ${JSON.stringify(type)} in ${JSON.stringify(buf.toString('latin1'))}`,
      );
  }
}

/** A TCP client that sends raw bytes and reads whole replies as latin1 strings. */
export class RawClient extends BufferedSocket {
  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new RawClient(await BufferedSocket.dial(port, host));
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends a multibulk command. */
  cmd(...args: (string | Buffer)[]): void {
    this.socket.write(encodeCommand(args));
  }

  /** The next complete reply, raw (latin1). */
  async reply(timeoutMs = 3000): Promise<string> {
    return this.waitFor(
      () => {
        const end = replyEnd(this.buf, 0);
        if (end < 0) {
          if (this.ended)
            throw new Error(`connection closed; buffered: ${JSON.stringify(this.buf.toString('latin1'))}`);
          return undefined;
        }
        const out = this.buf.toString('latin1', 0, end);
        this.buf = this.buf.subarray(end);
        return out;
      },
      timeoutMs,
      'a reply',
    );
  }

  /** Sends a command and returns its reply. */
  async call(...args: (string | Buffer)[]): Promise<string> {
    this.cmd(...args);
    return this.reply();
  }

  /** Exactly `n` bytes. */
  async bytes(n: number, timeoutMs = 3000): Promise<string> {
    return this.waitFor(
      () => {
        if (this.buf.length < n) {
          if (this.ended) throw new Error('connection closed');
          return undefined;
        }
        const out = this.buf.toString('latin1', 0, n);
        this.buf = this.buf.subarray(n);
        return out;
      },
      timeoutMs,
      `${n} bytes`,
    );
  }

  /** Everything until the server closes the connection. */
  async untilClosed(timeoutMs = 3000): Promise<string> {
    await this.waitFor(() => (this.ended ? true : undefined), timeoutMs, 'the connection to close');
    const out = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return out;
  }

  /** Bytes received and not yet read. */
  get pending(): string {
    return this.buf.toString('latin1');
  }
}

/** Starts a server on a kernel-picked port; remember to close it. */
export async function startServer(opts: SentinelServerOptions = {}): Promise<SentinelServer> {
  const server = new SentinelServer({ port: 0, ...opts });
  await server.listen();
  return server;
}

/** Raw RESP helpers for expected replies. */
export const bulk = (s: string): string => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;
export const arr = (...items: string[]): string => `*${items.length}\r\n${items.join('')}`;
export const push = (...items: string[]): string => `>${items.length}\r\n${items.join('')}`;
export const int = (n: number): string => `:${n}\r\n`;
export const err = (s: string): string => `-${s}\r\n`;
export const simple = (s: string): string => `+${s}\r\n`;

/** HELLO's reply for a sentinel: RESP3 map or RESP2 flat array. */
export function helloReply(proto: 2 | 3, id: number, version = '7.0.15'): string {
  const fields = [
    bulk('server'),
    bulk('redis'),
    bulk('version'),
    bulk(version),
    bulk('proto'),
    int(proto),
    bulk('id'),
    int(id),
    bulk('mode'),
    bulk('sentinel'),
    bulk('modules'),
    '*0\r\n',
  ];
  return proto === 3 ? `%6\r\n${fields.join('')}` : arr(...fields);
}

export async function waitUntil(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
