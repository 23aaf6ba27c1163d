/**
 * The lease and TimeoutNow fields added to append, append_resp and timeout_now after the first
 * wire version: 0 on the wire means absent, both ways, so older and newer members interoperate.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../../src/raft/grpc/codec.js';
import { loadProto } from '../../../src/raft/grpc/proto.js';
import type { Message } from '../../../src/raft/types.js';

const wire = (m: Message) => {
  const p = loadProto();
  return decodeMessage(p.deserializeRaftMessage(p.serializeRaftMessage(encodeMessage(m))));
};

describe('wire compatibility of the added fields', () => {
  it('round-trips the new fields when set', () => {
    const msgs: Message[] = [
      {
        type: 'append',
        from: 1,
        to: 2,
        term: 3,
        prevIndex: 4,
        prevTerm: 3,
        entries: [],
        commit: 4,
        seq: 9,
        leaseTicks: 30,
        leaseEchoTick: 1234,
        leaseEchoIncarnation: 77,
      },
      {
        type: 'append_resp',
        from: 2,
        to: 1,
        term: 3,
        success: true,
        matchIndex: 4,
        rejectIndex: 0,
        hintIndex: 0,
        hintTerm: 0,
        seq: 9,
        tick: 1240,
        incarnation: 77,
      },
      { type: 'timeout_now', from: 1, to: 2, term: 3, seq: 9, incarnation: 77 },
    ];
    for (const m of msgs) expect(wire(m)).toEqual(m);
  });

  it('an older peer’s message (fields missing) decodes with the fields absent, and absent encodes as 0', () => {
    const old: Message = { type: 'timeout_now', from: 1, to: 2, term: 3 };
    const decoded = wire(old);
    expect(decoded).toEqual(old);
    expect('seq' in decoded).toBe(false);
    expect(encodeMessage(old)).toMatchObject({ timeout_now: { seq: 0, incarnation: 0 } });
  });
});
