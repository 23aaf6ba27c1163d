import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeCommand,
  encodeReply,
  type ParserLimits,
  ProtocolError,
  parseRedisInteger,
  R,
  type Reply,
  RespParser,
  splitArgs,
} from '../../../src/sentinel/resp.js';

interface Outcome {
  commands: string[][];
  /** The error line the server would send (latin1), 'CLOSE' for a silent close, or null. */
  error: string | null;
}

/** Feeds the chunks one by one, draining commands after each, like the server does. */
function run(chunks: readonly Buffer[], limits: Partial<ParserLimits> = {}, authRequired = false): Outcome {
  const parser = new RespParser(limits);
  parser.authRequired = authRequired;
  const commands: string[][] = [];
  try {
    for (const chunk of chunks) {
      parser.feed(chunk);
      for (let argv = parser.next(); argv !== null; argv = parser.next()) {
        commands.push(argv.map((a) => a.toString('latin1')));
      }
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    return { commands, error: e.reply === null ? 'CLOSE' : e.reply.toString('latin1') };
  }
  return { commands, error: null };
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Every way of cutting `data` into two pieces, and byte by byte. */
function splits(data: Buffer): Buffer[][] {
  const out: Buffer[][] = [[data]];
  for (let i = 1; i < data.length; i++) out.push([data.subarray(0, i), data.subarray(i)]);
  out.push([...data].map((x) => Buffer.from([x])));
  return out;
}

function expectSplitInvariant(
  data: Buffer,
  limits: Partial<ParserLimits> = {},
  authRequired = false,
): Outcome {
  const whole = run([data], limits, authRequired);
  for (const chunks of splits(data)) expect(run(chunks, limits, authRequired)).toEqual(whole);
  return whole;
}

describe('RespParser: framing', () => {
  it('parses multibulk and inline requests, pipelined, split at every byte boundary', () => {
    const data = Buffer.concat([
      encodeCommand(['PING']),
      b('PING hello\r\n'),
      encodeCommand(['SENTINEL', 'get-master-addr-by-name', 'mymaster']),
      b('  SUBSCRIBE  +switch-master\t"+sdown" \r\n'),
      b('\r\n\n   \r\n'),
      encodeCommand(['SET', b('bin\x00\r\nary'), '']),
      b('*0\r\n*-1\r\nquit\n'),
      encodeCommand(['CLIENT', 'SETNAME', 'x'.repeat(300)]),
    ]);
    const outcome = expectSplitInvariant(data);
    expect(outcome.error).toBeNull();
    expect(outcome.commands).toEqual([
      ['PING'],
      ['PING', 'hello'],
      ['SENTINEL', 'get-master-addr-by-name', 'mymaster'],
      ['SUBSCRIBE', '+switch-master', '+sdown'],
      ['SET', 'bin\x00\r\nary', ''],
      ['quit'],
      ['CLIENT', 'SETNAME', 'x'.repeat(300)],
    ]);
  });

  it('parses many one-byte chunks queued before parsing (chunk queue compaction)', () => {
    const cmds = Array.from({ length: 300 }, (_, i) =>
      i % 2 ? [`PING`, `${i}`.repeat(i % 7)] : [`SUBSCRIBE`, `c${i}`, 'x'.repeat(i % 40)],
    );
    const data = Buffer.concat([...cmds.map((c) => encodeCommand(c)), b('PING "inline \\x41"\r\n')]);
    const p = new RespParser();
    for (const byte of data) p.feed(Buffer.from([byte]));
    const got: string[][] = [];
    for (let argv = p.next(); argv !== null; argv = p.next()) got.push(argv.map((a) => a.toString('latin1')));
    expect(got).toEqual([...cmds, ['PING', 'inline A']]);
    expect(p.idle).toBe(true);
  });

  it('keeps a partial request until the rest arrives', () => {
    const p = new RespParser();
    p.feed(b('*2\r\n$4\r\nPI'));
    expect(p.next()).toBeNull();
    expect(p.pendingBytes).toBe(2);
    p.feed(b('NG\r\n$2\r\nhi\r\n*1'));
    expect(p.next()?.map(String)).toEqual(['PING', 'hi']);
    expect(p.next()).toBeNull();
    expect(p.idle).toBe(false);
    p.feed(b('\r\n$4\r\nPING\r\n'));
    expect(p.next()?.map(String)).toEqual(['PING']);
    expect(p.idle).toBe(true);
  });

  it('skips the two bytes after bulk data without checking them, as Redis does', () => {
    expect(run([b('*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n')]).commands).toEqual([['PING'], ['PING']]);
  });

  it('returns arguments as views of the received chunk when they are contiguous', () => {
    const chunk = encodeCommand(['PING', 'abc']);
    const p = new RespParser();
    p.feed(chunk);
    const argv = p.next() as Buffer[];
    expect(argv[1]?.buffer).toBe(chunk.buffer);
  });

  it('parses integers as string2ll does', () => {
    const n = (s: string): number | null => parseRedisInteger(b(s), 0, s.length);
    expect(n('0')).toBe(0);
    expect(n('123')).toBe(123);
    expect(n('-5')).toBe(-5);
    expect(n('9223372036854775807')).toBeGreaterThan(9.2e18);
    for (const bad of [
      '',
      '-',
      '-0',
      '01',
      '+1',
      ' 1',
      '1 ',
      '1a',
      '9223372036854775808',
      '99999999999999999999',
    ]) {
      expect(n(bad), bad).toBeNull();
    }
    expect(n('-9223372036854775808')).toBeLessThan(-9.2e18);
    expect(n('-9223372036854775809')).toBeNull();
  });
});

describe('RespParser: inline commands (sdssplitargs)', () => {
  const cases: [string, string[] | null][] = [
    ['PING', ['PING']],
    ['  a   b\tc  ', ['a', 'b', 'c']],
    ['"hello world"', ['hello world']],
    ['"a\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\"z"', ['aAJ\n\r\t\b\x07\\"z']],
    ['"\\xZZ"', ['xZZ']],
    ['"\\x4"', ['x4']],
    ["'single \\' quote'", ["single ' quote"]],
    ["'no \\n escape'", ['no \\n escape']],
    ['a"b c"d', null],
    ['a"b c" d', ['ab c', 'd']],
    ["x'y z'", ['xy z']],
    ['""', ['']],
    ["''", ['']],
    ['"unterminated', null],
    ["'unterminated", null],
    ['"closing"x', null],
    ["'closing'x", null],
    ['"ok"\t', ['ok']],
    ['a\x00b c', ['a']],
    ['"a\x00b"', null],
    ['\x0b\x0cPING', ['PING']],
    ['', []],
  ];
  for (const [line, want] of cases) {
    it(`splits ${JSON.stringify(line)}`, () => {
      const got = splitArgs(b(line));
      expect(got === null ? null : got.map((x) => x.toString('latin1'))).toEqual(want);
    });
  }

  it('strips the CR of CRLF and accepts a bare LF', () => {
    expect(run([b('PING a\r\nPING b\n')]).commands).toEqual([
      ['PING', 'a'],
      ['PING', 'b'],
    ]);
  });
});

describe('RespParser: protocol errors (exact Redis texts), at any split', () => {
  const cases: [string, string | null, Partial<ParserLimits>?, boolean?][] = [
    ['*abc\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*+1\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*01\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1 \r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*-0\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1048577\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1000000000\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*99999999999999999999\r\n', 'ERR Protocol error: invalid multibulk length'],
    ['*1\r\nx\r\n', "ERR Protocol error: expected '$', got 'x'"],
    ['*1\r\n\r\n\r\n', "ERR Protocol error: expected '$', got ' '"],
    ['*1\r\n:1\r\n', "ERR Protocol error: expected '$', got ':'"],
    ['*1\r\n$abc\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$-1\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$-0\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$+4\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$04\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$ 4\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$4 \r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$16777217\r\n', 'ERR Protocol error: invalid bulk length'],
    ['*1\r\n$2000000000\r\n', 'ERR Protocol error: invalid bulk length'],
    ['"abc\r\n', 'ERR Protocol error: unbalanced quotes in request'],
    ["'abc\r\n", 'ERR Protocol error: unbalanced quotes in request'],
    ['PING "a"b\r\n', 'ERR Protocol error: unbalanced quotes in request'],
    ['*11\r\n', 'ERR Protocol error: unauthenticated multibulk length', {}, true],
    ['*2\r\n$4\r\nAUTH\r\n$16385\r\n', 'ERR Protocol error: unauthenticated bulk length', {}, true],
    ['*3\r\n', 'ERR Protocol error: invalid multibulk length', { maxMultibulkLength: 2 }],
    ['*1\r\n$11\r\n', 'ERR Protocol error: invalid bulk length', { maxBulkLength: 10 }],
    ['PING 1234567890\r\n', 'ERR Protocol error: too big inline request', { maxInlineLength: 10 }],
    ['PING 1234567890', 'ERR Protocol error: too big inline request', { maxInlineLength: 10 }],
    ['*1234567890123', 'ERR Protocol error: too big mbulk count string', { maxInlineLength: 10 }],
    ['*1\r\n$1234567890123', 'ERR Protocol error: too big bulk count string', { maxInlineLength: 10 }],
    ['*2\r\n$5\r\nhello\r\n$20\r\nxxxxxxxxxxxxxxx', null, { maxQueryBuffer: 20 }],
    ['*2\r\n$5\r\nhello\r\n$20\r\nxxxxxxxxxxxxxxxx', 'CLOSE', { maxQueryBuffer: 20 }],
    ['*2\r\n$5\r\nhello\r\n$10\r\n0123456789\r\n', null, { maxQueryBuffer: 15 }],
    ['*2\r\n$5\r\nhello\r\n$10\r\n0123456789\r\n', 'CLOSE', { maxQueryBuffer: 14 }],
  ];
  for (const [input, want, limits, auth] of cases) {
    it(`${JSON.stringify(input)} → ${want}`, () => {
      const outcome = expectSplitInvariant(b(input), limits ?? {}, auth ?? false);
      expect(outcome.error).toBe(want);
    });
  }

  it('accepts what the unauthenticated limits refuse once authenticated', () => {
    const data = encodeCommand([
      'MSET',
      ...Array.from({ length: 20 }, (_, i) => `k${i}`),
      'x'.repeat(20_000),
    ]);
    expect(run([data]).commands[0]).toHaveLength(22);
  });

  it('keeps failing after an error and releases its buffers', () => {
    const p = new RespParser();
    p.feed(b('*1\r\nx\r\n*1\r\n$4\r\nPING\r\n'));
    expect(() => p.next()).toThrow(ProtocolError);
    expect(() => p.next()).toThrow(ProtocolError);
    expect(p.pendingBytes).toBe(0);
  });

  it('an inline line up to the limit is fine; the error names the first offending request only', () => {
    const limits = { maxInlineLength: 16 };
    expect(run([b(`PING ${'x'.repeat(11)}\r\n`)], limits).commands).toEqual([['PING', 'x'.repeat(11)]]);
    const outcome = run([b(`PING a\r\nPING ${'y'.repeat(20)}\r\nPING b\r\n`)], limits);
    expect(outcome.commands).toEqual([['PING', 'a']]);
    expect(outcome.error).toBe('ERR Protocol error: too big inline request');
  });
});

describe('RespParser: memory', () => {
  it('never allocates a declared length: memory follows the bytes received', () => {
    const limits = { maxBulkLength: 2 ** 31, maxQueryBuffer: 2 ** 32 };
    const before = process.memoryUsage().arrayBuffers;
    const parsers: RespParser[] = [];
    for (let i = 0; i < 50; i++) {
      const p = new RespParser(limits);
      p.feed(b('*1000000\r\n$2000000000\r\nabc'));
      expect(p.next()).toBeNull();
      expect(p.pendingBytes).toBe(3);
      parsers.push(p);
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(16 * 1024 * 1024);
    expect(parsers).toHaveLength(50);
  });

  it('drops a client whose single request outgrows the query buffer', () => {
    const p = new RespParser({ maxQueryBuffer: 1024 * 1024 });
    p.feed(b('*1\r\n$10000000\r\n'));
    expect(p.next()).toBeNull();
    let error: unknown;
    try {
      for (let i = 0; i < 20; i++) {
        p.feed(Buffer.alloc(64 * 1024, 120));
        expect(p.next()).toBeNull();
      }
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).kind).toBe('query buffer limit');
    expect((error as ProtocolError).reply).toBeNull();
  });

  it('assembles a large bulk that arrives in many small chunks in linear time', () => {
    const size = 8 * 1024 * 1024;
    const p = new RespParser();
    p.feed(b(`*2\r\n$3\r\nSET\r\n$${size}\r\n`));
    const piece = Buffer.alloc(1024, 97);
    const start = performance.now();
    for (let i = 0; i < size / piece.length; i++) {
      p.feed(piece);
      expect(p.next()).toBeNull();
    }
    p.feed(b('\r\n'));
    const argv = p.next() as Buffer[];
    expect(argv[1]?.length).toBe(size);
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('scans a long inline line arriving byte by byte in linear time', () => {
    const p = new RespParser();
    const start = performance.now();
    const line = `PING ${'z'.repeat(60_000)}`;
    for (let i = 0; i < line.length; i++) {
      p.feed(Buffer.from([line.charCodeAt(i)]));
      expect(p.next()).toBeNull();
    }
    p.feed(b('\r\n'));
    expect(p.next()?.[1]?.length).toBe(60_000);
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});

// --- fuzzing ------------------------------------------------------------------------------------

/** Cuts `data` at the given fractional positions. */
function cut(data: Buffer, fractions: readonly number[]): Buffer[] {
  const points = [...new Set(fractions.map((f) => Math.floor(f * data.length)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    if (p > last && p < data.length) {
      out.push(data.subarray(last, p));
      last = p;
    }
  }
  out.push(data.subarray(last));
  return out;
}

const fractions = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });
const binaryArg = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u));
const command = fc.array(binaryArg, { minLength: 1, maxLength: 6 });
const inlineToken = fc.stringMatching(/^[A-Za-z0-9_.:|+*?-]{1,12}$/);
/** A command name: an inline request must not start with '*' (that is a multibulk request). */
const inlineName = fc.stringMatching(/^[A-Za-z0-9_.:|+?-][A-Za-z0-9_.:|+*?-]{0,11}$/);

/** An inline argument written in double quotes with every byte escaped as \xHH. */
function quoteHex(arg: Buffer): string {
  return `"${[...arg].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('')}"`;
}

describe('RespParser: fuzz (fast-check)', () => {
  it('random valid multibulk commands, cut anywhere, parse back exactly', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 20 }), fractions, (cmds, fr) => {
        const data = Buffer.concat(cmds.map((c) => encodeCommand(c)));
        const outcome = run(cut(data, fr));
        expect(outcome.error).toBeNull();
        expect(outcome.commands).toEqual(cmds.map((c) => c.map((a) => a.toString('latin1'))));
      }),
      { numRuns: 300 },
    );
  });

  it('random inline commands (plain and \\x-quoted), cut anywhere, parse back exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(inlineName, fc.array(fc.oneof(inlineToken, binaryArg), { maxLength: 4 })), {
          maxLength: 15,
        }),
        fractions,
        (cmds, fr) => {
          const text = cmds
            .map(([name, args]) =>
              [name, ...args.map((a) => (typeof a === 'string' ? a : quoteHex(a)))].join(' '),
            )
            .join('\r\n');
          const data = b(`${text}\r\n`);
          const outcome = run(cut(data, fr));
          expect(outcome.error).toBeNull();
          expect(outcome.commands).toEqual(
            cmds.map(([name, args]) => [
              name,
              ...args.map((a) => (typeof a === 'string' ? a : a.toString('latin1'))),
            ]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes: only ProtocolError, same outcome however cut, memory bounded by the input', () => {
    const alphabet = fc.constantFrom(
      ...'*$\r\n0123456789-+ "\'\\xaPING'.split('').map((c) => c.charCodeAt(0)),
    );
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc.array(alphabet, { maxLength: 400 }).map((a) => Uint8Array.from(a)),
    );
    fc.assert(
      fc.property(bytes, fractions, fc.boolean(), (u, fr, auth) => {
        const data = Buffer.from(u);
        const limits = { maxInlineLength: 64, maxQueryBuffer: 256 };
        const whole = run([data], limits, auth);
        expect(run(cut(data, fr), limits, auth)).toEqual(whole);
        const p = new RespParser(limits);
        p.authRequired = auth;
        p.feed(data);
        try {
          while (p.next() !== null) {
            // drain
          }
          expect(p.pendingBytes).toBeLessThanOrEqual(data.length);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('valid commands followed by garbage: the valid prefix parses exactly', () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 8 }),
        fc.uint8Array({ maxLength: 100 }),
        fractions,
        (cmds, g, fr) => {
          const valid = Buffer.concat(cmds.map((c) => encodeCommand(c)));
          const outcome = run(cut(Buffer.concat([valid, Buffer.from(g)]), fr));
          const want = cmds.map((c) => c.map((a) => a.toString('latin1')));
          expect(outcome.commands.slice(0, want.length)).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('huge declared lengths and counts with little data: no allocation, no crash', () => {
    const before = process.memoryUsage().arrayBuffers;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        (count, length, tail, generous) => {
          const limits = generous ? { maxBulkLength: 2 ** 31, maxMultibulkLength: 2 ** 31 } : {};
          const data = Buffer.concat([b(`*${count}\r\n$${length}\r\n`), Buffer.from(tail)]);
          const outcome = run([data], limits);
          if (outcome.error === null) expect(outcome.commands.length).toBeLessThanOrEqual(1);
          else expect(outcome.error).toMatch(/^ERR Protocol error: |^CLOSE$/);
        },
      ),
      { numRuns: 500 },
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});

// --- reply encoding -----------------------------------------------------------------------------

describe('reply encoding', () => {
  const enc = (r: Reply, proto: 2 | 3): string => encodeReply(r, proto).toString('latin1');
  const cases: [string, Reply, string, string][] = [
    ['simple', R.ok, '+OK\r\n', '+OK\r\n'],
    ['error', R.err('boom'), '-ERR boom\r\n', '-ERR boom\r\n'],
    [
      'error code',
      R.errCode('NOAUTH', 'Authentication required.'),
      '-NOAUTH Authentication required.\r\n',
      '-NOAUTH Authentication required.\r\n',
    ],
    ['error without newlines', R.err('a\r\nb'), '-ERR a  b\r\n', '-ERR a  b\r\n'],
    ['int', R.int(-42), ':-42\r\n', ':-42\r\n'],
    ['bigint', R.int(9007199254740993n), ':9007199254740993\r\n', ':9007199254740993\r\n'],
    ['bulk utf8', R.bulk('é'), '$2\r\n\xc3\xa9\r\n', '$2\r\n\xc3\xa9\r\n'],
    ['bulk binary', R.bulk(Buffer.from([0, 255])), '$2\r\n\x00\xff\r\n', '$2\r\n\x00\xff\r\n'],
    ['empty bulk', R.bulk(''), '$0\r\n\r\n', '$0\r\n\r\n'],
    ['null', R.null, '$-1\r\n', '_\r\n'],
    ['null array', R.nullArray, '*-1\r\n', '_\r\n'],
    ['array', R.bulks(['a', 'b']), '*2\r\n$1\r\na\r\n$1\r\nb\r\n', '*2\r\n$1\r\na\r\n$1\r\nb\r\n'],
    ['empty array', R.emptyArray, '*0\r\n', '*0\r\n'],
    [
      'map',
      R.map([
        ['k', R.int(1)],
        ['m', R.null],
      ]),
      '*4\r\n$1\r\nk\r\n:1\r\n$1\r\nm\r\n$-1\r\n',
      '%2\r\n$1\r\nk\r\n:1\r\n$1\r\nm\r\n_\r\n',
    ],
    [
      'string map',
      R.stringMap([['port', 6379]]),
      '*2\r\n$4\r\nport\r\n$4\r\n6379\r\n',
      '%1\r\n$4\r\nport\r\n$4\r\n6379\r\n',
    ],
    ['set', R.set([R.simple('fast')]), '*1\r\n+fast\r\n', '~1\r\n+fast\r\n'],
    ['double', R.double(1.5), '$3\r\n1.5\r\n', ',1.5\r\n'],
    ['double inf', R.double(Number.NEGATIVE_INFINITY), '$4\r\n-inf\r\n', ',-inf\r\n'],
    ['double nan', R.double(Number.NaN), '$3\r\nnan\r\n', ',nan\r\n'],
    ['bool', R.bool(true), ':1\r\n', '#t\r\n'],
    ['bool false', R.bool(false), ':0\r\n', '#f\r\n'],
    ['verbatim', R.verbatim('a\nb'), '$3\r\na\nb\r\n', '=7\r\ntxt:a\nb\r\n'],
    [
      'push',
      R.push([R.bulk('message'), R.bulk('c'), R.bulk('m')]),
      '*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n',
      '>3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n',
    ],
    [
      'nested',
      R.array([R.map([['a', R.set([])]]), R.nullArray]),
      '*2\r\n*2\r\n$1\r\na\r\n*0\r\n*-1\r\n',
      '*2\r\n%1\r\n$1\r\na\r\n~0\r\n_\r\n',
    ],
  ];
  for (const [name, reply, resp2, resp3] of cases) {
    it(`${name}: RESP2 and RESP3`, () => {
      expect(enc(reply, 2)).toBe(resp2);
      expect(enc(reply, 3)).toBe(resp3);
    });
  }

  it('round-trips through the request parser for bulk arrays', () => {
    fc.assert(
      fc.property(fc.array(binaryArg, { minLength: 1, maxLength: 8 }), (args) => {
        const bytes = encodeReply(R.bulks(args), 2);
        expect(bytes.equals(encodeCommand(args))).toBe(true);
        const p = new RespParser();
        p.feed(bytes);
        expect(p.next()?.map((x) => x.toString('hex'))).toEqual(args.map((x) => x.toString('hex')));
      }),
      { numRuns: 200 },
    );
  });
});
