import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodecError,
  decodeSnapshotFile,
  encodeFrame,
  encodeSnapshotFile,
  FRAME_HEADER_BYTES,
  frameBytes,
  type LogRecord,
  scanFrames,
} from '../../../src/raft/storage/codec.js';
import type { Entry, HardState, Snapshot } from '../../../src/raft/types.js';

const u53 = fc.maxSafeNat();

const entryArb: fc.Arbitrary<Entry> = fc.record({
  index: u53,
  term: u53,
  type: fc.constantFrom('normal' as const, 'noop' as const, 'config' as const),
  data: fc.uint8Array({ maxLength: 64 }),
});

const hardStateArb: fc.Arbitrary<HardState> = fc.record({ term: u53, vote: u53, commit: u53 });

const recordArb: fc.Arbitrary<LogRecord> = fc.record({
  segmentStart: fc.option(fc.record({ prevIndex: u53, prevTerm: u53 }), { nil: null }),
  reset: fc.option(fc.record({ index: u53, term: u53 }), { nil: null }),
  entries: fc.array(entryArb, { maxLength: 8 }),
  hardState: fc.option(hardStateArb, { nil: null }),
});

const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({
  meta: fc.record({
    index: u53,
    term: u53,
    membership: fc.record({
      members: fc.array(
        fc.record({
          id: fc.integer({ min: 1, max: 1000 }),
          role: fc.constantFrom('voter' as const, 'learner' as const, 'witness' as const),
          addr: fc.string(),
        }),
        { maxLength: 5 },
      ),
      removed: fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 3 }),
    }),
  }),
  data: fc.uint8Array({ maxLength: 256 }),
});

/** Plain objects with plain Uint8Arrays, so equality does not depend on Buffer views. */
function normalize(record: LogRecord): LogRecord {
  return { ...record, entries: record.entries.map((e) => ({ ...e, data: new Uint8Array(e.data) })) };
}

describe('log frame codec', () => {
  it('round-trips arbitrary records, alone and back to back', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 5 }), (records) => {
        const frames = records.map(encodeFrame);
        frames.forEach((frame, i) => {
          expect(frame.length).toBe(frameBytes(records[i]!));
        });
        const bytes = Buffer.concat(frames);
        const scan = scanFrames(bytes);
        expect(scan.end).toEqual({ kind: 'clean' });
        expect(scan.validBytes).toBe(bytes.length);
        expect(scan.frames.map((f) => normalize(f.record))).toEqual(records.map(normalize));
        let offset = 0;
        scan.frames.forEach((f, i) => {
          expect(f.offset).toBe(offset);
          offset += frames[i]!.length;
        });
      }),
    );
  });

  it('encodes numbers up to 2^53-1 exactly and refuses anything else', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const record: LogRecord = {
      segmentStart: { prevIndex: max - 1, prevTerm: 2 ** 32 },
      reset: null,
      entries: [{ index: max, term: 2 ** 32 - 1, type: 'noop', data: new Uint8Array() }],
      hardState: { term: max, vote: 2 ** 40 + 7, commit: 0 },
    };
    expect(normalize(scanFrames(encodeFrame(record)).frames[0]!.record)).toEqual(record);
    for (const bad of [max + 1, -1, 1.5, Number.NaN]) {
      expect(() => encodeFrame({ ...record, hardState: { term: bad, vote: 0, commit: 0 } })).toThrow(
        CodecError,
      );
    }
  });

  it('classifies every truncation of the last frame as torn', () => {
    const first = encodeFrame({
      segmentStart: null,
      reset: null,
      entries: [],
      hardState: { term: 1, vote: 2, commit: 0 },
    });
    const last = encodeFrame({
      segmentStart: null,
      reset: null,
      entries: [{ index: 1, term: 1, type: 'normal', data: new Uint8Array([1, 2, 3]) }],
      hardState: null,
    });
    const whole = Buffer.concat([first, last]);
    for (let cut = 1; cut < last.length; cut++) {
      const scan = scanFrames(whole.subarray(0, first.length + cut));
      expect(scan.end.kind).toBe('torn');
      expect(scan.validBytes).toBe(first.length);
      expect(scan.frames).toHaveLength(1);
    }
  });

  it('tells a damaged middle frame from a damaged last frame', () => {
    const frames = [1, 2, 3].map((term) =>
      encodeFrame({
        segmentStart: null,
        reset: null,
        entries: [{ index: term, term, type: 'normal', data: new Uint8Array(20).fill(term) }],
        hardState: null,
      }),
    );
    const whole = Buffer.concat(frames);
    const secondAt = frames[0]!.length;
    const lastAt = secondAt + frames[1]!.length;

    const payloadFlip = Buffer.from(whole);
    payloadFlip[secondAt + FRAME_HEADER_BYTES + 5]! ^= 0x10;
    expect(scanFrames(payloadFlip).end).toEqual({
      kind: 'corrupt',
      offset: secondAt,
      reason: 'checksum mismatch',
    });

    const headerFlip = Buffer.from(whole);
    headerFlip[secondAt + 1]! ^= 0x01;
    expect(scanFrames(headerFlip).end).toEqual({
      kind: 'corrupt',
      offset: secondAt,
      reason: 'header checksum mismatch',
    });

    const lastPayloadFlip = Buffer.from(whole);
    lastPayloadFlip[lastAt + FRAME_HEADER_BYTES + 3]! ^= 0x80;
    expect(scanFrames(lastPayloadFlip).end).toMatchObject({ kind: 'torn', offset: lastAt });

    const zeroTail = Buffer.concat([whole, Buffer.alloc(100)]);
    expect(scanFrames(zeroTail).end).toMatchObject({
      kind: 'torn',
      offset: whole.length,
      reason: 'zero-filled tail',
    });

    const garbageTail = Buffer.concat([whole, Buffer.alloc(100, 7)]);
    expect(scanFrames(garbageTail).end).toMatchObject({ kind: 'corrupt', offset: whole.length });
  });

  it('refuses a frame with valid checksums but a malformed payload', () => {
    const payload = Buffer.from([1, 9, 0, 0]); // version 1, unknown tag 9
    const frame = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
    frame.writeUInt32LE(payload.length, 0);
    payload.copy(frame, FRAME_HEADER_BYTES);
    frame.writeUInt32LE(crc32(payload), 4);
    frame.writeUInt32LE(crc32(frame.subarray(0, 8)), 8);
    const scan = scanFrames(frame);
    expect(scan.end).toMatchObject({ kind: 'corrupt', offset: 0 });
    expect((scan.end as { reason: string }).reason).toContain('unknown item tag 9');
  });
});

describe('snapshot file codec', () => {
  it('round-trips arbitrary snapshots', () => {
    fc.assert(
      fc.property(snapshotArb, (snapshot) => {
        const decoded = decodeSnapshotFile(encodeSnapshotFile(snapshot));
        expect(decoded.meta).toEqual(snapshot.meta);
        expect(new Uint8Array(decoded.data)).toEqual(snapshot.data);
      }),
    );
  });

  it('detects any single flipped bit', () => {
    fc.assert(
      fc.property(snapshotArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (snapshot, at, bit) => {
        const file = encodeSnapshotFile(snapshot);
        file[at % file.length]! ^= 1 << bit;
        expect(() => decodeSnapshotFile(file)).toThrow(CodecError);
      }),
    );
  });

  it('detects truncation and trailing garbage', () => {
    const file = encodeSnapshotFile({
      meta: {
        index: 5,
        term: 2,
        membership: { members: [{ id: 1, role: 'voter', addr: 'a:1' }], removed: [] },
      },
      data: new Uint8Array([1, 2, 3, 4]),
    });
    for (let cut = 0; cut < file.length; cut++) {
      expect(() => decodeSnapshotFile(file.subarray(0, cut))).toThrow(CodecError);
    }
    expect(() => decodeSnapshotFile(Buffer.concat([file, Buffer.from([0])]))).toThrow(CodecError);
  });
});
