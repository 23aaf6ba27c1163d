/**
 * RESP framing for the Sentinel port.
 *
 * - `RespParser`: incremental request parser, as Redis's `processMultibulkBuffer` / `processInlineBuffer`
 *   read them: multibulk arrays of bulk strings, and inline commands split like `sdssplitargs`.
 *   Data may arrive split at any byte; many commands may arrive in one chunk. Each byte is examined
 *   a constant number of times and argument bytes are sliced out of the received chunks (copied
 *   once, only when an argument spans chunks), so parsing is linear in the input. A declared length
 *   is never allocated up front: memory follows the bytes actually received.
 * - `Reply`: a small tagged union that command code returns, independent of the protocol version;
 *   `writeReply` encodes it as RESP2 or RESP3 (maps flatten, sets become arrays, nulls become `$-1`
 *   or `*-1`, push becomes an array, double becomes a bulk string, boolean an integer, in RESP2).
 */

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

export type ProtocolVersion = 2 | 3;

export type Reply =
  /** `+text` (status). */
  | { readonly t: 'simple'; readonly s: string }
  /** `-CODE message`; `s` starts with the code (`ERR ...`, `NOAUTH ...`). Buffers are written as is. */
  | { readonly t: 'error'; readonly s: string | Buffer }
  | { readonly t: 'int'; readonly n: number | bigint }
  /** Bulk string; strings are written as UTF-8. */
  | { readonly t: 'bulk'; readonly v: string | Buffer }
  /** Null bulk: RESP2 `$-1`, RESP3 `_`. */
  | { readonly t: 'null' }
  /** Null array: RESP2 `*-1`, RESP3 `_`. */
  | { readonly t: 'nullArray' }
  | { readonly t: 'array'; readonly items: readonly Reply[] }
  /** RESP3 `%`; RESP2 a flat array `[k1, v1, k2, v2, ...]`. */
  | { readonly t: 'map'; readonly entries: readonly (readonly [Reply, Reply])[] }
  /** RESP3 `~`; RESP2 an array. */
  | { readonly t: 'set'; readonly items: readonly Reply[] }
  /** RESP3 `,`; RESP2 a bulk string. */
  | { readonly t: 'double'; readonly n: number }
  /** RESP3 `#t`/`#f`; RESP2 `:1`/`:0`. */
  | { readonly t: 'bool'; readonly b: boolean }
  /** RESP3 `=len\r\nfmt:text`; RESP2 a bulk string of the text. `format` is three characters. */
  | { readonly t: 'verbatim'; readonly format: string; readonly s: string }
  /** RESP3 `>` out-of-band push (pub/sub); RESP2 an array. */
  | { readonly t: 'push'; readonly items: readonly Reply[] };

/** Reply constructors. */
export const R = {
  ok: { t: 'simple', s: 'OK' } as Reply,
  pong: { t: 'simple', s: 'PONG' } as Reply,
  null: { t: 'null' } as Reply,
  nullArray: { t: 'nullArray' } as Reply,
  emptyArray: { t: 'array', items: [] } as Reply,
  simple: (s: string): Reply => ({ t: 'simple', s }),
  /** An error reply with the generic `ERR` code: `R.err('syntax error')` → `-ERR syntax error`. */
  err: (message: string): Reply => ({ t: 'error', s: `ERR ${message}` }),
  /** An error reply with its own code: `R.errCode('NOAUTH', 'Authentication required.')`. */
  errCode: (code: string, message: string): Reply => ({ t: 'error', s: `${code} ${message}` }),
  int: (n: number | bigint): Reply => ({ t: 'int', n }),
  bulk: (v: string | Buffer): Reply => ({ t: 'bulk', v }),
  /** A bulk string, or the null bulk for null/undefined. */
  bulkOrNull: (v: string | Buffer | null | undefined): Reply => (v == null ? R.null : { t: 'bulk', v }),
  array: (items: readonly Reply[]): Reply => ({ t: 'array', items }),
  /** An array of bulk strings. */
  bulks: (values: readonly (string | Buffer)[]): Reply => ({
    t: 'array',
    items: values.map((v) => ({ t: 'bulk', v })),
  }),
  /** A map; string keys become bulk strings. */
  map: (entries: readonly (readonly [string | Reply, Reply])[]): Reply => ({
    t: 'map',
    entries: entries.map(([k, v]) => [typeof k === 'string' ? { t: 'bulk', v: k } : k, v] as const),
  }),
  /** A map of bulk string keys to bulk string values (numbers written in decimal). */
  stringMap: (entries: readonly (readonly [string, string | number])[]): Reply => ({
    t: 'map',
    entries: entries.map(
      ([k, v]) =>
        [
          { t: 'bulk', v: k },
          { t: 'bulk', v: String(v) },
        ] as const,
    ),
  }),
  set: (items: readonly Reply[]): Reply => ({ t: 'set', items }),
  double: (n: number): Reply => ({ t: 'double', n }),
  bool: (b: boolean): Reply => ({ t: 'bool', b }),
  verbatim: (s: string, format = 'txt'): Reply => ({ t: 'verbatim', format, s }),
  push: (items: readonly Reply[]): Reply => ({ t: 'push', items }),
} as const;

/** Grows a buffer of encoded output; `take()` hands out what was written and starts over. */
export class ReplyWriter {
  private buf: Buffer;
  private len = 0;

  constructor(private readonly initialSize = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Writes a string whose characters are all below U+0100 (one byte each). */
  latin1(s: string): void {
    this.reserve(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }

  utf8(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.reserve(n);
    this.len += this.buf.write(s, this.len, n, 'utf8');
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** The bytes written since the last take(), as a buffer the caller owns. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    // Do not keep a buffer that a single huge reply grew: drop back to the initial size.
    if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(this.initialSize);
    return out;
  }
}

const CRLF = '\r\n';

/** Replaces CR and LF, which would break a status or error line, with spaces (as Redis does). */
function lineSafe(s: string): string {
  return s.includes('\r') || s.includes('\n') ? s.replace(/[\r\n]/g, ' ') : s;
}

function lineSafeBytes(b: Buffer): Buffer {
  if (!b.includes(13) && !b.includes(10)) return b;
  const copy = Buffer.from(b);
  for (let i = 0; i < copy.length; i++) if (copy[i] === 13 || copy[i] === 10) copy[i] = 32;
  return copy;
}

/** A double as Redis 7.2 writes it: shortest round-trip form, `inf`, `-inf`, `nan`. */
export function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Number.POSITIVE_INFINITY) return 'inf';
  if (n === Number.NEGATIVE_INFINITY) return '-inf';
  if (Object.is(n, -0)) return '-0';
  return String(n);
}

function writeBulk(w: ReplyWriter, v: string | Buffer): void {
  if (typeof v === 'string') {
    w.latin1(`$${Buffer.byteLength(v, 'utf8')}${CRLF}`);
    w.utf8(v);
    w.latin1(CRLF);
  } else {
    w.latin1(`$${v.length}${CRLF}`);
    w.bytes(v);
    w.latin1(CRLF);
  }
}

/** Appends the encoding of `reply` in protocol `proto` to `w`. */
export function writeReply(w: ReplyWriter, reply: Reply, proto: ProtocolVersion): void {
  switch (reply.t) {
    case 'simple':
      w.utf8(`+${lineSafe(reply.s)}${CRLF}`);
      return;
    case 'error':
      w.latin1('-');
      if (typeof reply.s === 'string') w.utf8(lineSafe(reply.s));
      else w.bytes(lineSafeBytes(reply.s));
      w.latin1(CRLF);
      return;
    case 'int':
      w.latin1(`:${reply.n}${CRLF}`);
      return;
    case 'bulk':
      writeBulk(w, reply.v);
      return;
    case 'null':
      w.latin1(proto === 3 ? `_${CRLF}` : `$-1${CRLF}`);
      return;
    case 'nullArray':
      w.latin1(proto === 3 ? `_${CRLF}` : `*-1${CRLF}`);
      return;
    case 'array':
      w.latin1(`*${reply.items.length}${CRLF}`);
      for (const item of reply.items) writeReply(w, item, proto);
      return;
    case 'set':
      w.latin1(`${proto === 3 ? '~' : '*'}${reply.items.length}${CRLF}`);
      for (const item of reply.items) writeReply(w, item, proto);
      return;
    case 'push':
      w.latin1(`${proto === 3 ? '>' : '*'}${reply.items.length}${CRLF}`);
      for (const item of reply.items) writeReply(w, item, proto);
      return;
    case 'map':
      w.latin1(proto === 3 ? `%${reply.entries.length}${CRLF}` : `*${reply.entries.length * 2}${CRLF}`);
      for (const [k, v] of reply.entries) {
        writeReply(w, k, proto);
        writeReply(w, v, proto);
      }
      return;
    case 'double': {
      const text = formatDouble(reply.n);
      if (proto === 3) w.latin1(`,${text}${CRLF}`);
      else w.latin1(`$${text.length}${CRLF}${text}${CRLF}`);
      return;
    }
    case 'bool':
      if (proto === 3) w.latin1(reply.b ? `#t${CRLF}` : `#f${CRLF}`);
      else w.latin1(reply.b ? `:1${CRLF}` : `:0${CRLF}`);
      return;
    case 'verbatim':
      if (proto === 3) {
        const format = `${reply.format}   `.slice(0, 3);
        w.latin1(`=${Buffer.byteLength(reply.s, 'utf8') + 4}${CRLF}${format}:`);
        w.utf8(reply.s);
        w.latin1(CRLF);
      } else {
        writeBulk(w, reply.s);
      }
      return;
  }
}

/** The encoding of one reply as a fresh buffer. */
export function encodeReply(reply: Reply, proto: ProtocolVersion): Buffer {
  const w = new ReplyWriter(256);
  writeReply(w, reply, proto);
  return w.take();
}

// ---------------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------------

export interface ParserLimits {
  /** Largest bulk argument (`$N`) accepted; larger → `invalid bulk length`. Redis: 512 MB. */
  maxBulkLength: number;
  /** Most arguments in one multibulk request (`*N`); more → `invalid multibulk length`. */
  maxMultibulkLength: number;
  /** Longest inline command line, and longest `*N` / `$N` header line. Redis: 64 KiB. */
  maxInlineLength: number;
  /**
   * Largest request (sum of its arguments); a request growing beyond it closes the connection
   * without a reply, as Redis does when the query buffer passes `client-query-buffer-limit` (1 GiB).
   */
  maxQueryBuffer: number;
  /** Before AUTH (when a password is required): most arguments. Redis: 10. */
  maxUnauthenticatedMultibulkLength: number;
  /** Before AUTH (when a password is required): largest bulk argument. Redis: 16384. */
  maxUnauthenticatedBulkLength: number;
}

export const DEFAULT_PARSER_LIMITS: Readonly<ParserLimits> = Object.freeze({
  maxBulkLength: 16 * 1024 * 1024,
  maxMultibulkLength: 1024 * 1024,
  maxInlineLength: 64 * 1024,
  maxQueryBuffer: 32 * 1024 * 1024,
  maxUnauthenticatedMultibulkLength: 10,
  maxUnauthenticatedBulkLength: 16 * 1024,
});

export type ProtocolErrorKind =
  | 'invalid multibulk length'
  | 'invalid bulk length'
  | 'unauthenticated multibulk length'
  | 'unauthenticated bulk length'
  | 'expected $'
  | 'unbalanced quotes'
  | 'too big inline request'
  | 'too big mbulk count string'
  | 'too big bulk count string'
  | 'query buffer limit';

/**
 * The only error the parser throws. `reply` is the error line Redis sends before closing the
 * connection (without the leading `-` and trailing CRLF), or null when Redis closes silently
 * (query buffer limit).
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  constructor(
    readonly kind: ProtocolErrorKind,
    readonly reply: Buffer | null,
  ) {
    super(reply === null ? `protocol error: ${kind}` : reply.toString('latin1'));
  }
}

function protocolError(kind: ProtocolErrorKind, text: string): ProtocolError {
  return new ProtocolError(kind, Buffer.from(`ERR Protocol error: ${text}`, 'latin1'));
}

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;

enum State {
  Start = 0,
  Inline = 1,
  MultibulkCount = 2,
  BulkLength = 3,
  BulkBody = 4,
}

const EMPTY = Buffer.alloc(0);
const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';

/**
 * Parses a signed decimal as Redis's `string2ll` accepts it: no sign but `-`, no leading zeros,
 * no spaces, `0` but not `-0`, within int64. Returns null otherwise. Values beyond 2^53 lose
 * precision, which only matters for comparisons against limits far below that.
 */
export function parseRedisInteger(b: Uint8Array, start: number, end: number): number | null {
  let i = start;
  let negative = false;
  if (i >= end) return null;
  if (b[i] === 45 /* - */) {
    negative = true;
    i++;
    if (i >= end) return null;
  }
  const digits = end - i;
  if (b[i] === 48 /* 0 */) return digits === 1 && !negative ? 0 : null;
  if (digits > 19) return null;
  let n = 0;
  for (let j = i; j < end; j++) {
    const d = (b[j] as number) - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  if (digits === 19) {
    let text = '';
    for (let j = i; j < end; j++) text += String.fromCharCode(b[j] as number);
    if (text > (negative ? INT64_MIN_ABS : INT64_MAX)) return null;
  }
  return negative ? -n : n;
}

/**
 * Incremental RESP request parser. `feed()` chunks as they arrive; `next()` returns the next
 * complete command (its arguments as byte buffers), or null when more bytes are needed, or throws
 * a ProtocolError; after an error the parser is unusable (the connection must be closed).
 */
export class RespParser {
  readonly limits: Readonly<ParserLimits>;
  /** When true, the stricter pre-AUTH limits apply to the next request headers parsed. */
  authRequired = false;

  /** Received chunks; the live ones are chunks[first..]. An index, not shift(), keeps this O(1). */
  private chunks: (Buffer | undefined)[] = [];
  private first = 0;
  /** Read position in chunks[first]. */
  private head = 0;
  /** Unconsumed bytes in `chunks`. */
  private buffered = 0;

  private state: State = State.Start;
  /** Line scanning: where the scan for the current line's terminator resumes (-1: not started). */
  private scanChunk = -1;
  private scanOffset = 0;
  /** Bytes of the current line scanned so far without finding its terminator. */
  private scanned = 0;
  /** Length of the current line once its terminator was found, else -1. */
  private lineLength = -1;

  private args: Buffer[] = [];
  private argsBytes = 0;
  private argsLeft = 0;
  private bulkLength = 0;
  private failed: ProtocolError | null = null;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_PARSER_LIMITS, ...limits };
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes held for requests not yet returned by next() (Redis's `qbuf`). */
  get pendingBytes(): number {
    return this.buffered + this.argsBytes;
  }

  /** True when no partial request is held. */
  get idle(): boolean {
    return this.buffered === 0 && this.state === State.Start;
  }

  next(): Buffer[] | null {
    if (this.failed) throw this.failed;
    try {
      return this.parse();
    } catch (e) {
      if (e instanceof ProtocolError) {
        this.failed = e;
        this.release();
      }
      throw e;
    }
  }

  /** Drops everything held (after an error, or when the connection closes). */
  release(): void {
    this.chunks = [];
    this.first = 0;
    this.head = 0;
    this.buffered = 0;
    this.args = [];
    this.argsBytes = 0;
  }

  private parse(): Buffer[] | null {
    for (;;) {
      switch (this.state) {
        case State.Start: {
          if (this.buffered === 0) return null;
          const firstByte = (this.chunks[this.first] as Buffer)[this.head];
          this.resetLine();
          if (firstByte === STAR) {
            this.consume(1);
            this.state = State.MultibulkCount;
          } else {
            this.state = State.Inline;
          }
          break;
        }
        case State.Inline: {
          // One byte of slack for the CR of CRLF: the limit applies to the line without it.
          const length = this.findLine(LF, 'too big inline request', 'too big inline request', 1);
          if (length < 0) return null;
          const line = this.take(length);
          this.consume(1);
          this.state = State.Start;
          let end = line.length;
          if (end > 0 && line[end - 1] === CR) end--;
          if (end > this.limits.maxInlineLength) {
            throw protocolError('too big inline request', 'too big inline request');
          }
          const argv = splitArgs(line, 0, end);
          if (argv === null) throw protocolError('unbalanced quotes', 'unbalanced quotes in request');
          if (argv.length > 0) return argv;
          break;
        }
        case State.MultibulkCount: {
          const length = this.findLine(CR, 'too big mbulk count string', 'too big mbulk count string');
          if (length < 0 || this.buffered < length + 2) return null;
          const line = this.take(length);
          this.consume(2);
          const n = parseRedisInteger(line, 0, line.length);
          if (n === null || n > this.limits.maxMultibulkLength) {
            throw protocolError('invalid multibulk length', 'invalid multibulk length');
          }
          if (this.authRequired && n > this.limits.maxUnauthenticatedMultibulkLength) {
            throw protocolError('unauthenticated multibulk length', 'unauthenticated multibulk length');
          }
          if (n <= 0) {
            this.state = State.Start;
            break;
          }
          this.argsLeft = n;
          this.resetLine();
          this.state = State.BulkLength;
          break;
        }
        case State.BulkLength: {
          const length = this.findLine(CR, 'too big bulk count string', 'too big bulk count string');
          if (length < 0 || this.buffered < length + 2) return null;
          const line = this.take(length);
          this.consume(2);
          if (line[0] !== DOLLAR) {
            const got = line.length > 0 ? (line[0] as number) : CR;
            const c = got === CR || got === LF ? ' ' : String.fromCharCode(got);
            throw new ProtocolError(
              'expected $',
              Buffer.from(`ERR Protocol error: expected '$', got '${c}'`, 'latin1'),
            );
          }
          const n = parseRedisInteger(line, 1, line.length);
          if (n === null || n < 0 || n > this.limits.maxBulkLength) {
            throw protocolError('invalid bulk length', 'invalid bulk length');
          }
          if (this.authRequired && n > this.limits.maxUnauthenticatedBulkLength) {
            throw protocolError('unauthenticated bulk length', 'unauthenticated bulk length');
          }
          this.bulkLength = n;
          this.state = State.BulkBody;
          break;
        }
        case State.BulkBody: {
          // The request so far: earlier arguments and what has arrived of this one. Checked the same
          // way whether the bytes came in one chunk or many, so the outcome does not depend on how
          // the input was cut.
          if (this.argsBytes + Math.min(this.buffered, this.bulkLength) > this.limits.maxQueryBuffer) {
            throw new ProtocolError('query buffer limit', null);
          }
          if (this.buffered < this.bulkLength + 2) return null;
          const arg = this.take(this.bulkLength);
          // Like Redis, the two bytes after the data are skipped without being checked.
          this.consume(2);
          this.args.push(arg);
          this.argsBytes += arg.length;
          if (--this.argsLeft === 0) {
            const argv = this.args;
            this.args = [];
            this.argsBytes = 0;
            this.state = State.Start;
            return argv;
          }
          this.resetLine();
          this.state = State.BulkLength;
          break;
        }
      }
    }
  }

  private resetLine(): void {
    this.scanChunk = -1;
    this.scanOffset = 0;
    this.scanned = 0;
    this.lineLength = -1;
  }

  /**
   * Length of the line at the read position, up to (not including) `terminator`, or -1 when the
   * terminator has not arrived. Resumes where the previous call stopped. A line longer than the
   * inline limit is an error whether or not its terminator has arrived.
   */
  private findLine(terminator: number, kind: ProtocolErrorKind, text: string, slack = 0): number {
    if (this.lineLength >= 0) return this.lineLength;
    const limit = this.limits.maxInlineLength + slack;
    if (this.scanChunk < 0) {
      if (this.buffered === 0) return -1;
      this.scanChunk = this.first;
      this.scanOffset = this.head;
    }
    while (this.scanChunk < this.chunks.length) {
      const chunk = this.chunks[this.scanChunk] as Buffer;
      const from = this.scanOffset;
      const at = chunk.indexOf(terminator, from);
      if (at >= 0) {
        const length = this.scanned + (at - from);
        if (length > limit) throw protocolError(kind, text);
        this.lineLength = length;
        return length;
      }
      this.scanned += chunk.length - from;
      if (this.scanned > limit) throw protocolError(kind, text);
      this.scanChunk++;
      this.scanOffset = 0;
    }
    return -1;
  }

  /** Removes `n` bytes from the read position and returns them (a view when they are contiguous). */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const front = this.chunks[this.first] as Buffer;
    if (front.length - this.head >= n) {
      const out = front.subarray(this.head, this.head + n);
      this.consume(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.first] as Buffer;
      const available = chunk.length - this.head;
      const count = Math.min(available, n - filled);
      chunk.copy(out, filled, this.head, this.head + count);
      filled += count;
      this.consume(count);
    }
    return out;
  }

  private consume(n: number): void {
    this.buffered -= n;
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[this.first] as Buffer;
      const available = chunk.length - this.head;
      if (left < available) {
        this.head += left;
        return;
      }
      left -= available;
      this.chunks[this.first] = undefined;
      this.first++;
      this.head = 0;
    }
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
      this.scanChunk = -1;
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      if (this.scanChunk >= 0) this.scanChunk -= this.first;
      this.first = 0;
    }
  }
}

function isSpace(c: number): boolean {
  // C isspace(): space, \t, \n, \v, \f, \r
  return c === 32 || (c >= 9 && c <= 13);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

/**
 * Splits an inline command line like Redis's `sdssplitargs`: blanks separate arguments; `"..."`
 * with `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a` and `\<c>` escapes; `'...'` with `\'`; a closing quote
 * must be followed by a blank or the end. A NUL byte ends the line (as in C). Returns null for
 * unbalanced quotes.
 */
export function splitArgs(line: Uint8Array, start = 0, end = line.length): Buffer[] | null {
  const out: Buffer[] = [];
  let p = start;
  const at = (i: number): number => (i < end ? (line[i] as number) : 0);
  for (;;) {
    while (p < end && line[p] !== 0 && isSpace(line[p] as number)) p++;
    if (p >= end || line[p] === 0) return out;
    const bytes: number[] = [];
    let inq = false;
    let insq = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inq) {
        if (c === 0) return null;
        if (c === 92 /* \ */ && at(p + 1) === 120 /* x */ && isHex(at(p + 2)) && isHex(at(p + 3))) {
          bytes.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === 92 && p + 1 < end && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          switch (e) {
            case 110: // n
              bytes.push(10);
              break;
            case 114: // r
              bytes.push(13);
              break;
            case 116: // t
              bytes.push(9);
              break;
            case 98: // b
              bytes.push(8);
              break;
            case 97: // a
              bytes.push(7);
              break;
            default:
              bytes.push(e);
          }
        } else if (c === 34 /* " */) {
          const after = at(p + 1);
          if (after !== 0 && !isSpace(after)) return null;
          done = true;
        } else {
          bytes.push(c);
        }
      } else if (insq) {
        if (c === 0) return null;
        if (c === 92 && at(p + 1) === 39 /* ' */) {
          p++;
          bytes.push(39);
        } else if (c === 39) {
          const after = at(p + 1);
          if (after !== 0 && !isSpace(after)) return null;
          done = true;
        } else {
          bytes.push(c);
        }
      } else {
        switch (c) {
          case 32:
          case 10:
          case 13:
          case 9:
          case 0:
            done = true;
            break;
          case 34:
            inq = true;
            break;
          case 39:
            insq = true;
            break;
          default:
            bytes.push(c);
        }
      }
      if (at(p) !== 0) p++;
    }
    out.push(Buffer.from(bytes));
  }
}

/** Encodes a command as a RESP multibulk request (what clients send). */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}
