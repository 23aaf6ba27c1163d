import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSnapshotFile, FRAME_HEADER_BYTES, scanFrames } from '../../../src/raft/storage/codec.js';
import { snapshotFileName as snapshotName } from '../../../src/raft/storage/data-dir.js';
import { FileStorage, type FileStorageOptions } from '../../../src/raft/storage/file-storage.js';
import { type PersistBatch, type RecoveredState, StorageError } from '../../../src/raft/storage/types.js';
import type { Entry, HardState, Snapshot } from '../../../src/raft/types.js';

const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'raftinel-recovery-'));
  dirs.push(dir);
  return dir;
}

function persist(storage: FileStorage, batch: Partial<PersistBatch>): Promise<void> {
  return new Promise((resolve, reject) =>
    storage.persist({ hardState: null, entries: [], snapshot: null, ...batch }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

function saveSnapshot(storage: FileStorage, snapshot: Snapshot): Promise<void> {
  return new Promise((resolve, reject) =>
    storage.saveSnapshot(snapshot, (err) => (err ? reject(err) : resolve())),
  );
}

async function reopen(dir: string, opts: Partial<FileStorageOptions> = {}): Promise<RecoveredState> {
  const { storage, state } = await FileStorage.open(dir, { nodeId: 1, ...opts });
  await storage.close();
  return state;
}

async function openError(dir: string, opts: Partial<FileStorageOptions> = {}): Promise<StorageError> {
  const result = await FileStorage.open(dir, { nodeId: 1, ...opts }).then(
    async ({ storage }) => {
      await storage.close();
      return null;
    },
    (err: unknown) => err,
  );
  expect(result).toBeInstanceOf(StorageError);
  return result as StorageError;
}

function entry(index: number, term: number): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(`${index}/${term}`) };
}

function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function snap(index: number, term: number): Snapshot {
  return {
    meta: { index, term, membership: { members: [{ id: 1, role: 'voter', addr: 'n1:7000' }], removed: [] } },
    data: new TextEncoder().encode(`state@${index}/${term}`),
  };
}

/** The reference: PersistBatch semantics on plain arrays, plus local compaction. */
class Model {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];

  get baseIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  get lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  termAt(index: number): number {
    if (index === this.baseIndex) return this.snapshot?.meta.term ?? 0;
    return this.entries[index - this.baseIndex - 1]?.term ?? -1;
  }

  persist(batch: PersistBatch): void {
    if (batch.snapshot) {
      this.snapshot = batch.snapshot;
      this.entries = [];
    }
    const first = batch.entries[0];
    if (first) {
      this.entries = this.entries.slice(0, first.index - this.baseIndex - 1).concat(batch.entries);
    }
    if (batch.hardState) this.hardState = { ...batch.hardState };
  }

  /** A snapshot file reached the disk but the frame resetting the log to it did not. */
  crashAfterSnapshotFile(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    this.entries = this.termAt(index) === term ? this.entries.filter((e) => e.index > index) : [];
    this.snapshot = snapshot;
  }

  saveSnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.baseIndex) return;
    this.entries = this.entries.filter((e) => e.index > snapshot.meta.index);
    this.snapshot = snapshot;
  }

  recovered(): RecoveredState {
    const { term, vote, commit } = this.hardState;
    return {
      hardState: { term, vote, commit: Math.max(commit, this.baseIndex) },
      snapshot: this.snapshot,
      entries: [...this.entries],
    };
  }

  clone(): Model {
    const copy = new Model();
    copy.hardState = { ...this.hardState };
    copy.snapshot = this.snapshot;
    copy.entries = [...this.entries];
    return copy;
  }
}

const SEGMENT = 'log-0000000000000001.seg';

describe('torn writes', () => {
  it('recovers the state before the last batch for every cut of the last frame', async () => {
    const dir = await tempDir();
    const model = new Model();
    const batches: PersistBatch[] = [
      { hardState: { term: 1, vote: 1, commit: 0 }, entries: range(1, 3, 1), snapshot: null },
      { hardState: { term: 1, vote: 1, commit: 2 }, entries: range(4, 5, 1), snapshot: null },
    ];
    const last: PersistBatch = {
      hardState: { term: 2, vote: 2, commit: 3 },
      entries: range(4, 6, 2),
      snapshot: null,
    };
    const next: PersistBatch = {
      hardState: { term: 3, vote: 3, commit: 4 },
      entries: [entry(6, 3)],
      snapshot: null,
    };
    const segment = join(dir, SEGMENT);

    const { storage } = await FileStorage.open(dir, { nodeId: 1 });
    for (const batch of batches) {
      await persist(storage, batch);
      model.persist(batch);
    }
    const goodBytes = (await stat(segment)).size;
    await persist(storage, last);
    await storage.close();
    const whole = await readFile(segment);
    const frameBytes = whole.length - goodBytes;
    expect(frameBytes).toBeGreaterThan(100);

    const before = model.recovered();
    const after = model.clone();
    after.persist(next);
    for (let cut = 0; cut < frameBytes; cut++) {
      await writeFile(segment, whole.subarray(0, goodBytes + cut));
      const opened = await FileStorage.open(dir, { nodeId: 1 });
      expect(opened.state, `cut at ${cut}`).toEqual(before);
      expect((await stat(segment)).size, `cut at ${cut}`).toBe(goodBytes);
      await persist(opened.storage, next);
      await opened.storage.close();
      expect(await reopen(dir), `cut at ${cut}`).toEqual(after.recovered());
    }
  });

  it('treats a zero-filled tail as torn and garbage after the last frame as corruption', async () => {
    const dir = await tempDir();
    const segment = join(dir, SEGMENT);
    const { storage } = await FileStorage.open(dir, { nodeId: 1 });
    await persist(storage, { hardState: { term: 1, vote: 1, commit: 1 }, entries: range(1, 2, 1) });
    await storage.close();
    const whole = await readFile(segment);

    await writeFile(segment, Buffer.concat([whole, Buffer.alloc(4096)]));
    expect((await reopen(dir)).entries).toEqual(range(1, 2, 1));
    expect((await stat(segment)).size).toBe(whole.length);

    await writeFile(segment, Buffer.concat([whole, Buffer.alloc(64, 0xa5)]));
    const err = await openError(dir);
    expect(err.message).toBe(
      `log corrupted in the middle: ${segment} at offset ${whole.length}: header checksum mismatch; ` +
        'refusing to start (data may have been acknowledged)',
    );
    expect(err.offset).toBe(whole.length);
  });
});

describe('torn last write whose header page never reached the disk', () => {
  async function twoFramesAndLast(dir: string) {
    const segment = join(dir, SEGMENT);
    const { storage } = await FileStorage.open(dir, { nodeId: 1 });
    await persist(storage, { hardState: { term: 1, vote: 1, commit: 0 }, entries: range(1, 2, 1) });
    await persist(storage, { hardState: { term: 1, vote: 1, commit: 2 }, entries: range(3, 4, 1) });
    const lastAt = (await stat(segment)).size;
    await persist(storage, { hardState: { term: 2, vote: 2, commit: 3 }, entries: range(5, 40, 2) });
    await storage.close();
    return { segment, whole: await readFile(segment), lastAt };
  }

  it('a zeroed header (its page lost) followed by the rest of the same write is a torn tail: truncated', async () => {
    const dir = await tempDir();
    const { segment, whole, lastAt } = await twoFramesAndLast(dir);
    expect(whole.length - lastAt).toBeGreaterThan(200);
    // The first page of the last write lost (zeros), later pages present; also with garbage.
    for (const lost of [FRAME_HEADER_BYTES, 64, 128]) {
      for (const fill of ['zeros-then-data', 'garbage-after'] as const) {
        const torn = Buffer.from(whole);
        torn.fill(0, lastAt, lastAt + lost);
        if (fill === 'garbage-after') torn.fill(0x5a, lastAt + lost + 40, lastAt + lost + 80);
        await writeFile(segment, torn);
        const state = await reopen(dir);
        expect(state.entries, `${lost} ${fill}`).toEqual([...range(1, 2, 1), ...range(3, 4, 1)]);
        expect((await stat(segment)).size).toBe(lastAt);
      }
    }
  });

  it('a zeroed header in the middle, with a whole valid frame after it, is still refused', async () => {
    const dir = await tempDir();
    const { segment, whole, lastAt } = await twoFramesAndLast(dir);
    const secondAt = scanFrames(whole).frames[1]!.offset;
    expect(secondAt).toBeLessThan(lastAt);
    const damaged = Buffer.from(whole);
    damaged.fill(0, secondAt, secondAt + FRAME_HEADER_BYTES);
    await writeFile(segment, damaged);
    const err = await openError(dir);
    expect(err.message).toMatch(
      new RegExp(
        `^log corrupted in the middle: ${segment} at offset ${secondAt}: zeroed frame header, yet a valid frame follows at offset ${lastAt}`,
      ),
    );
  });
});

describe('bit flips', () => {
  async function threeFrames(dir: string) {
    const segment = join(dir, SEGMENT);
    const model = new Model();
    const batches: PersistBatch[] = [
      { hardState: { term: 1, vote: 1, commit: 0 }, entries: range(1, 2, 1), snapshot: null },
      { hardState: { term: 1, vote: 1, commit: 2 }, entries: range(3, 4, 1), snapshot: null },
      { hardState: { term: 2, vote: 3, commit: 3 }, entries: range(4, 5, 2), snapshot: null },
    ];
    const offsets: number[] = [];
    const { storage } = await FileStorage.open(dir, { nodeId: 1 });
    for (const batch of batches) {
      offsets.push((await stat(segment)).size);
      await persist(storage, batch);
      model.persist(batch);
    }
    await storage.close();
    return { segment, whole: await readFile(segment), offsets, model };
  }

  it('refuses to start when any bit of a middle frame flips, naming file and offset', async () => {
    const dir = await tempDir();
    const { segment, whole, offsets } = await threeFrames(dir);
    const [, start, end] = offsets as [number, number, number];
    for (let byte = start; byte < end; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const damaged = Buffer.from(whole);
        damaged[byte]! ^= 1 << bit;
        await writeFile(segment, damaged);
        const err = await openError(dir);
        expect(err.file).toBe(segment);
        expect(err.offset).toBe(start);
        expect(err.message).toMatch(
          new RegExp(`^log corrupted in the middle: ${segment} at offset ${start}: .*checksum mismatch`),
        );
      }
    }
    // Untouched, it still opens: the refusals left nothing behind (lock released, no truncation).
    await writeFile(segment, whole);
    expect((await reopen(dir)).entries).toHaveLength(5);
  });

  it('never returns a different state when a bit of the last frame flips', async () => {
    const dir = await tempDir();
    const { segment, whole, offsets, model } = await threeFrames(dir);
    const [, , start] = offsets as [number, number, number];
    const beforeLast = new Model();
    beforeLast.persist({
      hardState: { term: 1, vote: 1, commit: 0 },
      entries: range(1, 2, 1),
      snapshot: null,
    });
    beforeLast.persist({
      hardState: { term: 1, vote: 1, commit: 2 },
      entries: range(3, 4, 1),
      snapshot: null,
    });
    let torn = 0;
    let refused = 0;
    for (let byte = start; byte < whole.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const damaged = Buffer.from(whole);
        damaged[byte]! ^= 1 << bit;
        await writeFile(segment, damaged);
        const outcome = await FileStorage.open(dir, { nodeId: 1 }).then(
          async ({ storage, state }) => {
            await storage.close();
            return state;
          },
          (err: unknown) => err,
        );
        if (outcome instanceof StorageError) {
          refused++;
          expect(outcome.offset).toBe(start);
        } else {
          torn++;
          expect(outcome).toEqual(beforeLast.recovered());
          expect((await stat(segment)).size).toBe(start);
        }
      }
    }
    expect(torn).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(model.recovered()).not.toEqual(beforeLast.recovered());
  });

  it('refuses any damage in a segment that is not the last one', async () => {
    const dir = await tempDir();
    const opts = { segmentBytes: 100 };
    const { storage } = await FileStorage.open(dir, { nodeId: 1, ...opts });
    for (let i = 1; i <= 10; i++) await persist(storage, { entries: [entry(i, 1)] });
    await storage.close();
    const segments = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
    expect(segments.length).toBeGreaterThan(2);
    const first = join(dir, segments[0]!);
    const bytes = await readFile(first);

    // A torn-looking end is still corruption when newer segments follow.
    await truncate(first, bytes.length - 3);
    const err = await openError(dir, opts);
    expect(err.file).toBe(first);
    expect(err.message).toContain(`log corrupted in the middle: ${first} at offset`);

    const flipped = Buffer.from(bytes);
    flipped[bytes.length - 1]! ^= 0x01;
    await writeFile(first, flipped);
    expect((await openError(dir, opts)).message).toContain(first);

    // A missing segment in the middle is refused too.
    await writeFile(first, bytes);
    await rm(join(dir, segments[1]!));
    expect((await openError(dir, opts)).message).toContain(`${segments[1]} is missing`);
  });
});

// ---------------------------------------------------------------------------------------------
// Random histories against the model

type Op =
  | { kind: 'append'; back: number; count: number; newTerm: boolean; hardState: boolean; vote: number }
  | { kind: 'hardState'; newTerm: boolean; vote: number }
  | { kind: 'receive'; ahead: number; count: number }
  | { kind: 'save'; back: number }
  | { kind: 'reopen' }
  | { kind: 'crashAfterSnapshotFile'; ahead: number; back: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(3),
      count: fc.nat(4),
      newTerm: fc.boolean(),
      hardState: fc.boolean(),
      vote: fc.nat(3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('hardState' as const), newTerm: fc.boolean(), vote: fc.nat(3) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('receive' as const), ahead: fc.nat(4), count: fc.nat(2) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('save' as const), back: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('crashAfterSnapshotFile' as const),
      ahead: fc.nat(3),
      back: fc.nat(3),
    }),
  },
);

/** Turn an abstract op into a concrete, valid call given the model's current state. */
function concretize(
  op: Exclude<Op, { kind: 'reopen' | 'crashAfterSnapshotFile' }>,
  model: Model,
): { batch: PersistBatch } | { snapshot: Snapshot } | null {
  // Terms never go back, as in Raft.
  const term = Math.max(model.hardState.term, model.termAt(model.lastIndex), 1);
  switch (op.kind) {
    case 'append': {
      const nextTerm = op.newTerm ? term + 1 : term;
      const first = Math.max(model.baseIndex + 1, model.lastIndex + 1 - op.back);
      const entries = op.count === 0 ? [] : range(first, first + op.count - 1, nextTerm);
      const last = entries.at(-1)?.index ?? model.lastIndex;
      const hardState = op.hardState
        ? { term: nextTerm, vote: op.vote, commit: Math.min(model.hardState.commit + 1, last) }
        : null;
      return { batch: { hardState, entries, snapshot: null } };
    }
    case 'hardState':
      return {
        batch: {
          hardState: { term: op.newTerm ? term + 1 : term, vote: op.vote, commit: model.hardState.commit },
          entries: [],
          snapshot: null,
        },
      };
    case 'receive': {
      const index = model.lastIndex + op.ahead;
      return {
        batch: {
          snapshot: snap(index, term),
          entries: op.count === 0 ? [] : range(index + 1, index + op.count, term),
          hardState: { term, vote: 0, commit: index },
        },
      };
    }
    case 'save': {
      const index = model.lastIndex - op.back;
      if (index <= model.baseIndex) return null;
      return { snapshot: snap(index, model.termAt(index)) };
    }
  }
}

async function sizes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await readdir(dir))
    if (name.endsWith('.seg')) out.set(name, (await stat(join(dir, name))).size);
  return out;
}

describe('random histories', () => {
  it('recover to the model, also after a random cut of the last frame', async () => {
    const root = await tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: Number(process.env.STORAGE_PROPERTY_OPS ?? 25) }),
        fc.record({ count: fc.integer({ min: 1, max: 3 }), newTerm: fc.boolean() }),
        fc.option(fc.nat(), { nil: null }),
        fc.constantFrom(64, 200, 1 << 20),
        fc.integer({ min: 1, max: 3 }),
        async (ops, final, cut, segmentBytes, keepSnapshots) => {
          const dir = join(root, `run-${run++}`);
          const opts = { nodeId: 1, segmentBytes, keepSnapshots };
          const model = new Model();
          let { storage, state } = await FileStorage.open(dir, opts);
          try {
            expect(state).toEqual(model.recovered());
            for (const op of ops) {
              if (op.kind === 'reopen') {
                await storage.close();
                ({ storage, state } = await FileStorage.open(dir, opts));
                expect(state).toEqual(model.recovered());
                continue;
              }
              if (op.kind === 'crashAfterSnapshotFile') {
                // A received snapshot whose file was written, then the daemon died. `back` > 0 picks
                // an index inside the log with its own term (a snapshot that matches the log).
                const index = Math.max(model.baseIndex, model.lastIndex + op.ahead - op.back);
                const term =
                  op.back > 0 && index <= model.lastIndex
                    ? model.termAt(index)
                    : model.termAt(model.lastIndex) + 1;
                const received = snap(index, term);
                await storage.close();
                await writeFile(join(dir, snapshotName(index, term)), encodeSnapshotFile(received));
                model.crashAfterSnapshotFile(received);
                ({ storage, state } = await FileStorage.open(dir, opts));
                expect(state).toEqual(model.recovered());
                continue;
              }
              const call = concretize(op, model);
              if (!call) continue;
              if ('batch' in call) {
                await persist(storage, call.batch);
                model.persist(call.batch);
              } else {
                await saveSnapshot(storage, call.snapshot);
                model.saveSnapshot(call.snapshot);
              }
            }
            // The last batch: always writes a frame, the one a crash may tear.
            const before = model.clone();
            const lastCall = concretize(
              { kind: 'append', back: 1, hardState: true, vote: 1, ...final },
              model,
            );
            const lastBatch = (lastCall as { batch: PersistBatch }).batch;
            const sizesBefore = await sizes(dir);
            await persist(storage, lastBatch);
            model.persist(lastBatch);
            await storage.close();

            let expected = model;
            if (cut !== null) {
              const newest = [...(await sizes(dir)).entries()].sort(([a], [b]) => a.localeCompare(b)).at(-1)!;
              const [name, sizeAfter] = newest;
              const sizeBefore = sizesBefore.get(name) ?? 0;
              await truncate(join(dir, name), sizeBefore + (cut % (sizeAfter - sizeBefore)));
              expected = before;
            }
            ({ storage, state } = await FileStorage.open(dir, opts));
            expect(state).toEqual(expected.recovered());
            // And it keeps working after recovery.
            const more = concretize(
              { kind: 'append', back: 0, count: 1, newTerm: false, hardState: true, vote: 2 },
              expected,
            );
            const moreBatch = (more as { batch: PersistBatch }).batch;
            await persist(storage, moreBatch);
            expected.persist(moreBatch);
            await storage.close();
            ({ storage, state } = await FileStorage.open(dir, opts));
            expect(state).toEqual(expected.recovered());
          } finally {
            await storage.close();
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      // STORAGE_PROPERTY_RUNS=2000 for a longer hunt.
      { numRuns: Number(process.env.STORAGE_PROPERTY_RUNS ?? 50) },
    );
  });
});
