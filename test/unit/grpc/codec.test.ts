import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  DEFAULT_CODEC_LIMITS,
  decodeMessage,
  encodeMessage,
  MESSAGE_TYPES,
} from '../../../src/raft/grpc/codec.js';
import { loadProto, type PbRaftMessage } from '../../../src/raft/grpc/proto.js';
import type { Entry, Membership, Message, SnapshotMeta } from '../../../src/raft/types.js';

const proto = loadProto();

/** TS message → proto object → wire bytes → proto object → TS message. */
function wireRoundTrip(message: Message): Message {
  const bytes = proto.serializeRaftMessage(encodeMessage(message));
  return decodeMessage(proto.deserializeRaftMessage(bytes));
}

const membership: Membership = {
  members: [
    { id: 1, role: 'voter', addr: '10.0.0.1:7000' },
    { id: 2, role: 'learner', addr: '[::1]:7001' },
    { id: 3, role: 'witness', addr: 'host-ä.example:7002' },
  ],
  removed: [4, 9007199254740991],
};

const meta: SnapshotMeta = { index: 120, term: 7, membership };

const entries: Entry[] = [
  { index: 11, term: 3, type: 'noop', data: new Uint8Array() },
  { index: 12, term: 3, type: 'normal', data: new Uint8Array([0, 1, 2, 255, 0]) },
  { index: 13, term: 4, type: 'config', data: new TextEncoder().encode('{"change":1}') },
];

/** One message of every type, with non-default values in every field. */
function samples(): Message[] {
  const h = { from: 1, to: 2, term: 5 };
  return [
    { ...h, type: 'prevote', lastLogIndex: 10, lastLogTerm: 4, transfer: false },
    { ...h, type: 'vote', lastLogIndex: 10, lastLogTerm: 4, transfer: true },
    { ...h, type: 'prevote_resp', granted: true },
    { ...h, type: 'vote_resp', granted: false },
    { ...h, type: 'append', prevIndex: 10, prevTerm: 3, entries, commit: 9, seq: 77 },
    { ...h, type: 'append', prevIndex: 0, prevTerm: 0, entries: [], commit: 0, seq: 0 },
    {
      ...h,
      type: 'append_resp',
      success: false,
      matchIndex: 0,
      rejectIndex: 10,
      hintIndex: 8,
      hintTerm: 2,
      seq: 77,
    },
    {
      ...h,
      type: 'snapshot',
      meta,
      offset: 4096,
      data: new Uint8Array(1000).map((_, i) => i % 251),
      totalBytes: 8192,
      done: false,
      seq: 3,
    },
    {
      ...h,
      type: 'snapshot',
      meta: { index: 1, term: 1, membership: { members: [], removed: [] } },
      offset: 0,
      data: new Uint8Array(),
      totalBytes: 0,
      done: true,
      seq: 0,
    },
    { ...h, type: 'snapshot_resp', snapshotIndex: 120, nextOffset: 5096, done: false, matchIndex: 0, seq: 3 },
    { ...h, type: 'timeout_now' },
    { ...h, type: 'read_index', ctx: 'read-1f3a' },
    { ...h, type: 'read_index_resp', ctx: 'read-1f3a', index: 42 },
    { ...h, type: 'read_index_resp', ctx: '', index: -1 },
  ];
}

describe('codec round trip', () => {
  it('covers every message type', () => {
    expect(new Set(samples().map((m) => m.type))).toEqual(new Set(MESSAGE_TYPES));
  });

  it.each(samples().map((m, i) => [`${i}:${m.type}`, m] as const))(
    '%s survives object and wire round trips',
    (_, message) => {
      expect(decodeMessage(encodeMessage(message))).toEqual(message);
      const back = wireRoundTrip(message);
      expect(back).toEqual(message);
      // Field-for-field: no extra or missing keys.
      expect(Object.keys(back).sort()).toEqual(Object.keys(message).sort());
    },
  );

  it('returns plain Uint8Array views with the exact bytes', () => {
    const m = samples().find((x) => x.type === 'snapshot')!;
    const back = wireRoundTrip(m);
    if (back.type !== 'snapshot' || m.type !== 'snapshot') throw new Error('unreachable');
    expect(back.data.constructor).toBe(Uint8Array);
    expect(Buffer.from(back.data).equals(Buffer.from(m.data))).toBe(true);
  });

  it('property: arbitrary valid messages round-trip exactly through the wire', () => {
    fc.assert(
      fc.property(arbMessage(), (message) => {
        expect(wireRoundTrip(message)).toEqual(message);
      }),
      { numRuns: 500 },
    );
  });
});

describe('codec rejects hostile inbound objects', () => {
  const valid = () => encodeMessage(samples()[4]!) as PbRaftMessage & { append: Record<string, unknown> };
  const entry0 = (o: ReturnType<typeof valid>) => (o.append.entries as Record<string, unknown>[])[0]!;
  const snap = () =>
    encodeMessage(samples()[7]!) as PbRaftMessage & {
      snapshot: { meta: { membership: { members: Record<string, unknown>[]; removed: unknown[] } } } & Record<
        string,
        unknown
      >;
    };

  const cases: [name: string, input: () => unknown, field: string, detail?: RegExp][] = [
    ['null', () => null, 'RaftMessage', /expected an object/],
    ['array', () => [], 'RaftMessage', /expected an object/],
    ['no variant', () => ({}), 'RaftMessage.msg', /no message variant/],
    ['unknown oneof', () => ({ msg: 'bogus', bogus: {} }), 'RaftMessage.msg', /unknown message variant/],
    ['prototype key as oneof', () => ({ msg: '__proto__' }), 'RaftMessage.msg', /unknown/],
    ['inherited key as oneof', () => ({ toString: {} }), 'RaftMessage.msg', /unknown/],
    ['two variants without msg', () => ({ vote: {}, append: {} }), 'RaftMessage.msg', /several variants/],
    ['variant body null', () => ({ msg: 'append', append: null }), 'append', /expected an object/],
    [
      'negative term',
      () => {
        const o = valid();
        o.append.term = -1;
        return o;
      },
      'append.term',
      /non-negative/,
    ],
    [
      'fractional index',
      () => {
        const o = valid();
        o.append.prev_index = 1.5;
        return o;
      },
      'append.prev_index',
    ],
    [
      'string number',
      () => {
        const o = valid();
        o.append.commit = '5';
        return o;
      },
      'append.commit',
      /string "5"/,
    ],
    [
      'unsafe integer',
      () => {
        const o = valid();
        o.append.seq = 2 ** 60;
        return o;
      },
      'append.seq',
    ],
    [
      'bigint',
      () => {
        const o = valid();
        o.append.term = 5n;
        return o;
      },
      'append.term',
    ],
    [
      'zero sender',
      () => {
        const o = valid();
        o.append.from = 0;
        return o;
      },
      'append.from',
      /node id/,
    ],
    [
      'missing field',
      () => {
        const o = valid();
        delete o.append.prev_term;
        return o;
      },
      'append.prev_term',
      /missing/,
    ],
    [
      'entries not an array',
      () => {
        const o = valid();
        o.append.entries = { length: 1 };
        return o;
      },
      'append.entries',
      /expected an array/,
    ],
    [
      'unknown entry type',
      () => {
        const o = valid();
        entry0(o).type = 9;
        return o;
      },
      'append.entries[0].type',
      /unknown entry type/,
    ],
    [
      'entry data not bytes',
      () => {
        const o = valid();
        entry0(o).data = 'AAEC';
        return o;
      },
      'append.entries[0].data',
      /expected bytes/,
    ],
    [
      'entry null',
      () => {
        const o = valid();
        (o.append.entries as unknown[])[1] = null;
        return o;
      },
      'append.entries[1]',
    ],
    [
      'bool as number',
      () => ({ msg: 'vote', vote: { ...voteBody(), transfer: 1 } }),
      'vote.transfer',
      /boolean/,
    ],
    [
      'snapshot without meta',
      () => {
        const o = snap();
        (o.snapshot as Record<string, unknown>).meta = null;
        return o;
      },
      'snapshot.meta',
    ],
    [
      'unknown member role',
      () => {
        const o = snap();
        o.snapshot.meta.membership.members[1]!.role = 7;
        return o;
      },
      'snapshot.meta.membership.members[1].role',
    ],
    [
      'negative removed id',
      () => {
        const o = snap();
        o.snapshot.meta.membership.removed[0] = -3;
        return o;
      },
      'snapshot.meta.membership.removed[0]',
    ],
    [
      'chunk beyond total',
      () => {
        const o = snap();
        o.snapshot.total_bytes = 10;
        return o;
      },
      'snapshot.offset',
      /exceeds total_bytes/,
    ],
    [
      'ctx not a string',
      () => ({ msg: 'read_index', read_index: { from: 1, to: 2, term: 1, ctx: 5 } }),
      'read_index.ctx',
    ],
    [
      'ctx too long',
      () => ({ msg: 'read_index', read_index: { from: 1, to: 2, term: 1, ctx: 'x'.repeat(5000) } }),
      'read_index.ctx',
      /too long/,
    ],
    [
      'lone surrogate',
      () => ({ msg: 'read_index', read_index: { from: 1, to: 2, term: 1, ctx: 'a\ud800b' } }),
      'read_index.ctx',
      /lone surrogate/,
    ],
    [
      'read index below -1',
      () => ({ msg: 'read_index_resp', read_index_resp: { from: 1, to: 2, term: 1, ctx: '', index: -2 } }),
      'read_index_resp.index',
    ],
  ];

  it.each(cases)('%s', (_, input, field, detail) => {
    let caught: unknown;
    try {
      decodeMessage(input());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CodecError);
    const err = caught as CodecError;
    expect(err.field).toBe(field);
    expect(err.message).toContain(field);
    if (detail) expect(err.message).toMatch(detail);
  });

  it('enforces array limits', () => {
    const limits = { ...DEFAULT_CODEC_LIMITS, maxEntries: 2, maxMembers: 2, maxRemoved: 1 };
    expect(() => decodeMessage(encodeMessage(samples()[4]!), limits)).toThrow(
      /append\.entries: too many items: 3 > limit 2/,
    );
    expect(() => decodeMessage(encodeMessage(samples()[7]!), limits)).toThrow(
      /snapshot\.meta\.membership\.members: too many items: 3 > limit 2/,
    );
    const big = {
      msg: 'append',
      append: { ...(valid().append as object), entries: new Array(300_000).fill(null) },
    };
    expect(() => decodeMessage(big)).toThrow(/append\.entries: too many items: 300000 > limit 262144/);
  });

  it('property: any input either decodes to a valid message or throws a CodecError', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true }),
        (input) => {
          try {
            decodeMessage(input);
          } catch (err) {
            expect(err).toBeInstanceOf(CodecError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: corrupting one field of a valid message never escapes as anything but CodecError', () => {
    const base = samples();
    fc.assert(
      fc.property(
        fc.nat({ max: base.length - 1 }),
        fc.nat(),
        fc.oneof(fc.anything(), fc.integer(), fc.double(), fc.constant(undefined)),
        (which, fieldPick, value) => {
          const pb = encodeMessage(base[which]!) as Record<string, unknown>;
          const body = pb[pb.msg as string] as Record<string, unknown>;
          const keys = Object.keys(body);
          body[keys[fieldPick % keys.length]!] = value;
          try {
            const m = decodeMessage(pb);
            // If it decoded, it must re-encode: everything that passed is valid.
            encodeMessage(m);
          } catch (err) {
            expect(err).toBeInstanceOf(CodecError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('codec validates outbound messages too', () => {
  it.each([
    ['unknown type', { type: 'bogus', from: 1, to: 2, term: 1 }, 'message.type'],
    ['zero target', { type: 'timeout_now', from: 1, to: 0, term: 1 }, 'timeout_now.to'],
    ['NaN term', { type: 'timeout_now', from: 1, to: 2, term: Number.NaN }, 'timeout_now.term'],
    [
      'unknown entry type',
      {
        type: 'append',
        from: 1,
        to: 2,
        term: 1,
        prevIndex: 0,
        prevTerm: 0,
        commit: 0,
        seq: 0,
        entries: [{ index: 1, term: 1, type: 'weird', data: new Uint8Array() }],
      },
      'append.entries[0].type',
    ],
    [
      'unknown role',
      {
        type: 'snapshot',
        from: 1,
        to: 2,
        term: 1,
        offset: 0,
        data: new Uint8Array(),
        totalBytes: 0,
        done: true,
        seq: 0,
        meta: {
          index: 1,
          term: 1,
          membership: { members: [{ id: 1, role: 'admin', addr: 'x:1' }], removed: [] },
        },
      },
      'snapshot.meta.membership.members[0].role',
    ],
  ])('%s', (_, message, field) => {
    expect(() => encodeMessage(message as unknown as Message)).toThrow(
      expect.objectContaining({ name: 'CodecError', field }),
    );
  });
});

// ---------------------------------------------------------------------------------------------

function voteBody() {
  return { from: 1, to: 2, term: 3, last_log_index: 4, last_log_term: 2, transfer: false };
}

function arbMessage(): fc.Arbitrary<Message> {
  const id = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
  const u = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat());
  const bytes = fc.uint8Array({ maxLength: 64 });
  const text = fc.string({ unit: 'grapheme', maxLength: 40 });
  const header = { from: id, to: id, term: u };
  const entry = fc.record({
    index: u,
    term: u,
    type: fc.constantFrom('normal', 'noop', 'config'),
    data: bytes,
  }) as fc.Arbitrary<Entry>;
  const arbMembership = fc.record({
    members: fc.array(fc.record({ id, role: fc.constantFrom('voter', 'learner', 'witness'), addr: text }), {
      maxLength: 5,
    }),
    removed: fc.array(id, { maxLength: 5 }),
  }) as fc.Arbitrary<Membership>;
  const chunk = fc
    .record({
      ...header,
      meta: fc.record({ index: u, term: u, membership: arbMembership }),
      offset: fc.nat({ max: 1 << 30 }),
      data: bytes,
      extra: fc.nat({ max: 1 << 30 }),
      done: fc.boolean(),
      seq: u,
    })
    .map(({ extra, ...rest }) => ({
      ...rest,
      type: 'snapshot' as const,
      totalBytes: rest.offset + rest.data.length + extra,
    }));
  return fc.oneof(
    fc.record({
      ...header,
      type: fc.constantFrom('prevote', 'vote'),
      lastLogIndex: u,
      lastLogTerm: u,
      transfer: fc.boolean(),
    }),
    fc.record({ ...header, type: fc.constantFrom('prevote_resp', 'vote_resp'), granted: fc.boolean() }),
    fc.record({
      ...header,
      type: fc.constant('append'),
      prevIndex: u,
      prevTerm: u,
      entries: fc.array(entry, { maxLength: 5 }),
      commit: u,
      seq: u,
    }),
    fc.record({
      ...header,
      type: fc.constant('append_resp'),
      success: fc.boolean(),
      matchIndex: u,
      rejectIndex: u,
      hintIndex: u,
      hintTerm: u,
      seq: u,
    }),
    chunk,
    fc.record({
      ...header,
      type: fc.constant('snapshot_resp'),
      snapshotIndex: u,
      nextOffset: u,
      done: fc.boolean(),
      matchIndex: u,
      seq: u,
    }),
    fc.record({ ...header, type: fc.constant('timeout_now') }),
    fc.record({ ...header, type: fc.constant('read_index'), ctx: text }),
    fc.record({
      ...header,
      type: fc.constant('read_index_resp'),
      ctx: text,
      index: fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
    }),
  ) as fc.Arbitrary<Message>;
}
