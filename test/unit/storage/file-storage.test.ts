import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSnapshotFile } from '../../../src/raft/storage/codec.js';
import { FileStorage, type FileStorageOptions } from '../../../src/raft/storage/file-storage.js';
import { type PersistBatch, type RecoveredState, StorageError } from '../../../src/raft/storage/types.js';
import type { Entry, HardState, Snapshot } from '../../../src/raft/types.js';

const dirs: string[] = [];
const open: FileStorage[] = [];

afterEach(async () => {
  for (const storage of open.splice(0)) await storage.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'raftinel-storage-'));
  dirs.push(dir);
  return dir;
}

async function openStorage(
  dir: string,
  opts: Partial<FileStorageOptions> = {},
): Promise<{ storage: FileStorage; state: RecoveredState }> {
  const result = await FileStorage.open(dir, { nodeId: 1, ...opts });
  open.push(result.storage);
  return result;
}

async function closeStorage(storage: FileStorage): Promise<void> {
  await storage.close();
  open.splice(open.indexOf(storage), 1);
}

async function reopen(dir: string, opts: Partial<FileStorageOptions> = {}): Promise<RecoveredState> {
  const { storage, state } = await openStorage(dir, opts);
  await closeStorage(storage);
  return state;
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

function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

function range(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function snap(index: number, term: number, data = `state@${index}`): Snapshot {
  return {
    meta: {
      index,
      term,
      membership: { members: [{ id: 1, role: 'voter', addr: '127.0.0.1:7000' }], removed: [4] },
    },
    data: new TextEncoder().encode(data),
  };
}

const EMPTY: RecoveredState = { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

async function snapshotFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.snap')).sort();
}

describe('FileStorage round trip', () => {
  it('recovers entries, suffix overwrites, hard state and a received snapshot', async () => {
    const dir = await tempDir();
    const first = await openStorage(dir);
    expect(first.state).toEqual(EMPTY);
    const s = first.storage;

    await persist(s, { hardState: { term: 1, vote: 1, commit: 0 }, entries: range(1, 3, 1) });
    await persist(s, { hardState: { term: 1, vote: 1, commit: 2 }, entries: range(4, 6, 1) });
    await closeStorage(s);
    expect(await reopen(dir)).toEqual({
      hardState: { term: 1, vote: 1, commit: 2 },
      snapshot: null,
      entries: range(1, 6, 1),
    });

    const second = (await openStorage(dir)).storage;
    // A follower overwriting a conflicting suffix.
    await persist(second, { hardState: { term: 2, vote: 3, commit: 4 }, entries: range(5, 7, 2) });
    await persist(second, { hardState: { term: 3, vote: 0, commit: 4 } });
    await closeStorage(second);
    expect(await reopen(dir)).toEqual({
      hardState: { term: 3, vote: 0, commit: 4 },
      snapshot: null,
      entries: [...range(1, 4, 1), ...range(5, 7, 2)],
    });

    const third = (await openStorage(dir)).storage;
    await persist(third, {
      snapshot: snap(10, 3),
      entries: range(11, 12, 3),
      hardState: { term: 3, vote: 0, commit: 10 },
    });
    await persist(third, { entries: [entry(13, 3, '')] });
    await closeStorage(third);
    const recovered = await reopen(dir);
    expect(recovered).toEqual({
      hardState: { term: 3, vote: 0, commit: 10 },
      snapshot: snap(10, 3),
      entries: [...range(11, 12, 3), entry(13, 3, '')],
    });
    expect(recovered.snapshot?.data).toBeInstanceOf(Uint8Array);
  });

  it('keeps large entries and all entry types intact', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const entries: Entry[] = [
      { index: 1, term: 1, type: 'noop', data: new Uint8Array() },
      { index: 2, term: 1, type: 'config', data: new Uint8Array([1, 2]) },
      { index: 3, term: 1, type: 'normal', data: big },
    ];
    await persist(storage, { entries, hardState: { term: 1, vote: 2, commit: 3 } });
    await closeStorage(storage);
    const recovered = (await reopen(dir)).entries;
    // Compare the big payload bytewise: deep equality over a million elements is slow.
    expect(Buffer.compare(recovered[2]!.data, big)).toBe(0);
    expect(recovered.map((e) => ({ ...e, data: e.data.length }))).toEqual(
      entries.map((e) => ({ ...e, data: e.data.length })),
    );
    expect(recovered.slice(0, 2)).toEqual(entries.slice(0, 2));
  });

  it('clamps the recovered commit index to the snapshot index', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    await persist(storage, { hardState: { term: 2, vote: 1, commit: 1 }, entries: range(1, 5, 2) });
    await saveSnapshot(storage, snap(4, 2));
    await closeStorage(storage);
    const state = await reopen(dir);
    expect(state.hardState).toEqual({ term: 2, vote: 1, commit: 4 });
    expect(state.snapshot?.meta.index).toBe(4);
    expect(state.entries).toEqual([entry(5, 2)]);
  });
});

describe('FileStorage segments and snapshots', () => {
  it('rotates segments, recovers across them and deletes the ones a snapshot covers', async () => {
    const dir = await tempDir();
    const opts = { segmentBytes: 300 };
    const { storage } = await openStorage(dir, opts);
    // The hard state is only written once: it must survive through each segment's first frame.
    await persist(storage, { hardState: { term: 4, vote: 2, commit: 0 } });
    for (let i = 1; i <= 60; i++) await persist(storage, { entries: [entry(i, 4)] });
    const before = await segmentFiles(dir);
    expect(before.length).toBeGreaterThan(5);
    expect(before[0]).toBe('log-0000000000000001.seg');
    await closeStorage(storage);
    expect(await reopen(dir, opts)).toEqual({
      hardState: { term: 4, vote: 2, commit: 0 },
      snapshot: null,
      entries: range(1, 60, 4),
    });

    const again = (await openStorage(dir, opts)).storage;
    await saveSnapshot(again, snap(40, 4));
    const after = await segmentFiles(dir);
    expect(after.length).toBeLessThan(before.length);
    expect(after.at(-1)).toBe(before.at(-1));
    // Every remaining segment but the first still holds entries above 40: only covered ones went.
    expect(before.slice(before.length - after.length)).toEqual(after);
    await persist(again, { entries: range(61, 62, 4), hardState: { term: 4, vote: 2, commit: 62 } });
    await closeStorage(again);
    expect(await reopen(dir, opts)).toEqual({
      hardState: { term: 4, vote: 2, commit: 62 },
      snapshot: snap(40, 4),
      entries: range(41, 62, 4),
    });
  });

  it('deletes every older segment once a received snapshot resets the log', async () => {
    const dir = await tempDir();
    const opts = { segmentBytes: 200 };
    const { storage } = await openStorage(dir, opts);
    await persist(storage, { hardState: { term: 1, vote: 1, commit: 0 } });
    for (let i = 1; i <= 30; i++) await persist(storage, { entries: [entry(i, 1)] });
    expect((await segmentFiles(dir)).length).toBeGreaterThan(3);
    await persist(storage, { snapshot: snap(25, 2), hardState: { term: 2, vote: 0, commit: 25 } });
    expect(await segmentFiles(dir)).toHaveLength(1);
    await persist(storage, { entries: range(26, 27, 2) });
    await closeStorage(storage);
    expect(await reopen(dir, opts)).toEqual({
      hardState: { term: 2, vote: 0, commit: 25 },
      snapshot: snap(25, 2),
      entries: range(26, 27, 2),
    });
  });

  it('keeps only the newest keepSnapshots snapshot files', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir, { keepSnapshots: 2 });
    await persist(storage, { entries: range(1, 20, 1), hardState: { term: 1, vote: 1, commit: 20 } });
    for (const index of [5, 10, 15]) await saveSnapshot(storage, snap(index, 1));
    expect(await snapshotFiles(dir)).toEqual([
      'snap-00000000000000000010-1.snap',
      'snap-00000000000000000015-1.snap',
    ]);
    // Not newer than the stored one: ignored.
    await saveSnapshot(storage, snap(12, 1));
    expect((await snapshotFiles(dir)).length).toBe(2);
    await closeStorage(storage);
    const state = await reopen(dir);
    expect(state.snapshot).toEqual(snap(15, 1));
    expect(state.entries).toEqual(range(16, 20, 1));
  });

  it('refuses a corrupt newest snapshot file, naming it', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    await persist(storage, { entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 5 } });
    await saveSnapshot(storage, snap(3, 1));
    await closeStorage(storage);
    const file = join(dir, 'snap-00000000000000000003-1.snap');
    const bytes = await readFile(file);
    bytes[bytes.length - 2]! ^= 0x04;
    await writeFile(file, bytes);
    const err = await FileStorage.open(dir, { nodeId: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toContain(file);
    expect((err as StorageError).file).toBe(file);
    // The lock was released: a fixed data_dir opens again.
    await writeFile(file, encodeSnapshotFile(snap(3, 1)));
    expect((await reopen(dir)).snapshot).toEqual(snap(3, 1));
  });

  it('handles a crash between a received snapshot file and its reset frame', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    await persist(storage, { entries: range(1, 6, 1), hardState: { term: 2, vote: 1, commit: 3 } });
    await closeStorage(storage);
    // The snapshot file made it to disk; the frame with the reset did not.
    await writeFile(join(dir, 'snap-00000000000000000020-2.snap'), encodeSnapshotFile(snap(20, 2)));
    const reopened = await openStorage(dir);
    expect(reopened.state).toEqual({
      hardState: { term: 2, vote: 1, commit: 20 },
      snapshot: snap(20, 2),
      entries: [],
    });
    // The log was reset on disk, so appending after the snapshot works and survives a restart.
    await persist(reopened.storage, { entries: range(21, 22, 2) });
    await closeStorage(reopened.storage);
    expect(await reopen(dir)).toEqual({
      hardState: { term: 2, vote: 1, commit: 20 },
      snapshot: snap(20, 2),
      entries: range(21, 22, 2),
    });
  });

  it('keeps the entries after a snapshot file that matches the log', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    await persist(storage, { entries: range(1, 6, 1), hardState: { term: 1, vote: 1, commit: 6 } });
    await closeStorage(storage);
    await writeFile(join(dir, 'snap-00000000000000000004-1.snap'), encodeSnapshotFile(snap(4, 1)));
    expect((await reopen(dir)).entries).toEqual(range(5, 6, 1));
    // Same index, other term: the log's entries after it cannot be trusted.
    await writeFile(join(dir, 'snap-00000000000000000005-9.snap'), encodeSnapshotFile(snap(5, 9)));
    expect(await reopen(dir)).toEqual({
      hardState: { term: 1, vote: 1, commit: 6 },
      snapshot: snap(5, 9),
      entries: [],
    });
  });

  it('removes temporary leftovers on open', async () => {
    const dir = await tempDir();
    await reopen(dir);
    await writeFile(join(dir, 'snap-00000000000000000009-1.snap.tmp'), 'half a snapshot');
    await reopen(dir);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('FileStorage lock and identity', () => {
  it('refuses a data_dir locked by a live process, naming its pid', async () => {
    const dir = await tempDir();
    await reopen(dir);
    const livePid = process.ppid;
    await writeFile(join(dir, 'LOCK'), `${livePid}\n`);
    await expect(FileStorage.open(dir, { nodeId: 1 })).rejects.toThrow(
      new RegExp(`locked by running process pid ${livePid}`),
    );
    await expect(FileStorage.open(dir, { nodeId: 1 })).rejects.toBeInstanceOf(StorageError);
  });

  it('refuses a second open in the same process', async () => {
    const dir = await tempDir();
    await openStorage(dir);
    await expect(FileStorage.open(dir, { nodeId: 1 })).rejects.toThrow(/already open in this process/);
  });

  it('takes over a stale lock', async () => {
    const dir = await tempDir();
    await reopen(dir);
    const child = spawnSync(process.execPath, ['-e', '']);
    expect(child.pid).toBeGreaterThan(0);
    await writeFile(join(dir, 'LOCK'), `${child.pid}\n`);
    const { storage } = await openStorage(dir);
    expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    await closeStorage(storage);
    await expect(stat(join(dir, 'LOCK'))).rejects.toMatchObject({ code: 'ENOENT' });
    // A lock left with our own pid by an earlier incarnation (a restarted container) is stale too.
    await writeFile(join(dir, 'LOCK'), `${process.pid}\n`);
    await reopen(dir);
  });

  it('refuses a data_dir that belongs to another node', async () => {
    const dir = await tempDir();
    await reopen(dir, { nodeId: 3 });
    await expect(FileStorage.open(dir, { nodeId: 5 })).rejects.toThrow(
      `data_dir ${dir} belongs to node 3, not node 5`,
    );
    await reopen(dir, { nodeId: 3 });
  });

  it('creates a missing data_dir', async () => {
    const dir = join(await tempDir(), 'a', 'b');
    expect(await reopen(dir)).toEqual(EMPTY);
    expect(await segmentFiles(dir)).toEqual(['log-0000000000000001.seg']);
  });
});

describe('FileStorage call discipline and failures', () => {
  it('throws when a call overlaps the previous one', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    const first = persist(storage, { entries: [entry(1, 1)] });
    expect(() =>
      storage.persist({ hardState: null, entries: [entry(2, 1)], snapshot: null }, () => {}),
    ).toThrow(StorageError);
    expect(() => storage.saveSnapshot(snap(1, 1), () => {})).toThrow(/still in progress/);
    await first;
    await persist(storage, { entries: [entry(2, 1)] });
  });

  it('fails every call after an I/O error', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    await persist(storage, { entries: [entry(1, 1)] });
    // Pull the file out from under it.
    await (storage as unknown as { active: { close(): Promise<void> } }).active.close();
    const err = await persist(storage, { entries: [entry(2, 1)] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    await expect(persist(storage, { entries: [entry(2, 1)] })).rejects.toThrow(/storage failed earlier/);
    await expect(saveSnapshot(storage, snap(1, 1))).rejects.toThrow(/storage failed earlier/);
  });

  it('refuses a batch that would leave a gap, and everything after it', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    await persist(storage, { entries: range(1, 2, 1) });
    await expect(persist(storage, { entries: [entry(4, 1)] })).rejects.toThrow(/expected an index in 1\.\.3/);
    await expect(persist(storage, { entries: [entry(3, 1)] })).rejects.toThrow(/storage failed earlier/);
    await closeStorage(storage);
    expect((await reopen(dir)).entries).toEqual(range(1, 2, 1));
  });

  it('fails calls after close', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    await closeStorage(storage);
    await expect(persist(storage, { entries: [entry(1, 1)] })).rejects.toThrow(/closed/);
  });

  it('writes one frame per batch and nothing for an empty batch', async () => {
    const dir = await tempDir();
    const { storage } = await openStorage(dir);
    const path = join(dir, 'log-0000000000000001.seg');
    await persist(storage, {});
    expect((await stat(path)).size).toBe(0);
    await persist(storage, {
      entries: [entry(1, 1)],
      hardState: { term: 1, vote: 1, commit: 0 } satisfies HardState,
    });
    const size = (await stat(path)).size;
    await persist(storage, { entries: [entry(2, 1, 'xy')] });
    // Header (12) + version (1) + entry (22 + 2 bytes of data).
    expect((await stat(path)).size - size).toBe(12 + 1 + 22 + 2);
  });
});
