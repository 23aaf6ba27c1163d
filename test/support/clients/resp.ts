/**
 * A raw RESP2/RESP3 connection that keeps each reply's exact type (simple string vs bulk, null
 * array vs null bulk vs RESP3 null, map vs flat array, push), for conformance tests that compare
 * what two servers put on the wire, not what a client library makes of it.
 */
import { BufferedSocket } from '../buffered-socket.js';

export type Resp =
  | { t: 'simple'; s: string }
  | { t: 'error'; s: string }
  | { t: 'int'; n: number }
  | { t: 'bulk'; s: string }
  | { t: 'verbatim'; s: string }
  | { t: 'double'; s: string }
  | { t: 'bool'; b: boolean }
  | { t: 'bignum'; s: string }
  /** `$-1` */
  | { t: 'nullbulk' }
  /** `*-1` */
  | { t: 'nullarray' }
  /** RESP3 `_` */
  | { t: 'null' }
  | { t: 'array'; items: Resp[] }
  | { t: 'set'; items: Resp[] }
  | { t: 'push'; items: Resp[] }
  | { t: 'map'; entries: [Resp, Resp][] };

/** Parse one reply at `at`: the reply and the offset after it, or null if incomplete. */
export function parseResp(buf: Buffer, at = 0): [Resp, number] | null {
  if (at >= buf.length) return null;
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('latin1', at + 1, nl);
  let pos = nl + 2;
  const blob = (t: 'bulk' | 'verbatim', nullT: Resp): [Resp, number] | null => {
    const n = Number(line);
    if (n < 0) return [nullT, pos];
    if (buf.length < pos + n + 2) return null;
    const s = buf.toString('latin1', pos, pos + n);
    return [{ t, s } as Resp, pos + n + 2];
  };
  const items = (n: number): [Resp[], number] | null => {
    const out: Resp[] = [];
    for (let i = 0; i < n; i++) {
      const r = parseResp(buf, pos);
      if (!r) return null;
      out.push(r[0]);
      pos = r[1];
    }
    return [out, pos];
  };
  switch (type) {
    case '+':
      return [{ t: 'simple', s: line }, pos];
    case '-':
      return [{ t: 'error', s: line }, pos];
    case ':':
      return [{ t: 'int', n: Number(line) }, pos];
    case ',':
      return [{ t: 'double', s: line }, pos];
    case '#':
      return [{ t: 'bool', b: line === 't' }, pos];
    case '(':
      return [{ t: 'bignum', s: line }, pos];
    case '_':
      return [{ t: 'null' }, pos];
    case '$':
      return blob('bulk', { t: 'nullbulk' });
    case '=':
      return blob('verbatim', { t: 'null' });
    case '*':
    case '~':
    case '>': {
      const n = Number(line);
      if (n < 0) return [{ t: 'nullarray' }, pos];
      const r = items(n);
      if (!r) return null;
      const t = type === '*' ? 'array' : type === '~' ? 'set' : 'push';
      return [{ t, items: r[0] }, r[1]];
    }
    case '%': {
      const r = items(Number(line) * 2);
      if (!r) return null;
      const entries: [Resp, Resp][] = [];
      for (let i = 0; i < r[0].length; i += 2) entries.push([r[0][i]!, r[0][i + 1]!]);
      return [{ t: 'map', entries }, r[1]];
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)} in ${JSON.stringify(line)}`);
  }
}

/** A plain value of a reply, for readable comparisons. */
export function plain(r: Resp): unknown {
  switch (r.t) {
    case 'simple':
    case 'bulk':
    case 'verbatim':
    case 'double':
    case 'bignum':
      return r.s;
    case 'error':
      return { error: r.s };
    case 'int':
      return r.n;
    case 'bool':
      return r.b;
    case 'nullbulk':
    case 'nullarray':
    case 'null':
      return null;
    case 'array':
    case 'set':
    case 'push':
      return r.items.map(plain);
    case 'map':
      return r.entries.map(([k, v]) => [plain(k), plain(v)]);
  }
}

/**
 * The fields of a Sentinel instance record as [name, value] pairs in wire order, checking its
 * shape: RESP2 a flat array of bulk strings, RESP3 a map of bulk strings to bulk strings.
 */
export function recordFields(r: Resp, proto: 2 | 3): [string, string][] {
  const pairs: [Resp, Resp][] = [];
  if (proto === 2) {
    if (r.t !== 'array' || r.items.length % 2 !== 0)
      throw new Error(`not a flat record: ${JSON.stringify(plain(r))}`);
    for (let i = 0; i < r.items.length; i += 2) pairs.push([r.items[i]!, r.items[i + 1]!]);
  } else {
    if (r.t !== 'map') throw new Error(`not a map record: ${JSON.stringify(plain(r))}`);
    pairs.push(...r.entries);
  }
  return pairs.map(([k, v]) => {
    if (k.t !== 'bulk' || v.t !== 'bulk') {
      throw new Error(
        `record field not a bulk string: ${JSON.stringify([plain(k), plain(v)])} (${k.t}, ${v.t})`,
      );
    }
    return [k.s, v.s];
  });
}

export class RespConn extends BufferedSocket {
  static async open(port: number, host = '127.0.0.1'): Promise<RespConn> {
    return new RespConn(await BufferedSocket.dial(port, host));
  }

  send(...args: string[]): void {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
    this.socket.write(parts.join(''));
  }

  /** The next reply (or push), bounded by `timeoutMs`. */
  next(timeoutMs = 3000): Promise<Resp> {
    return this.waitFor(
      () => {
        const r = parseResp(this.buf, 0);
        if (r) {
          this.buf = this.buf.subarray(r[1]);
          return r[0];
        }
        if (this.ended)
          throw new Error(`connection closed; buffered ${JSON.stringify(this.buf.toString('latin1'))}`);
        return undefined;
      },
      timeoutMs,
      'a reply',
    );
  }

  async call(...args: string[]): Promise<Resp> {
    this.send(...args);
    return this.next();
  }
}
