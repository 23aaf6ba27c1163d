/**
 * Durable Raft storage in a data_dir: an append-only log of checksummed frames in segment files,
 * plus snapshot files. See codec.ts for the byte formats.
 *
 * Each persist is one frame, written with one write call and made durable with one fdatasync
 * before `done`. Recovery replays every segment; a damaged frame at the very end of the newest
 * segment is a torn write (the batch was never acknowledged) and is cut off, anything else damaged
 * stops the member. That includes a last frame whose header page was lost (zeros) while later pages
 * of the same write landed, as long as no whole valid frame follows it (scanFrames in codec.ts).
 */
import { type FileHandle, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, silentLogger } from '../../util/log.js';
import type { Entry, HardState, Snapshot } from '../types.js';
import {
  CodecError,
  decodeSnapshotFile,
  encodeFrame,
  encodeSnapshotParts,
  type LogRecord,
  scanFrames,
} from './codec.js';
import {
  acquireLock,
  checkIdentity,
  type DirLock,
  errorCode,
  parseSegmentFileName,
  parseSnapshotFileName,
  segmentFileName,
  snapshotFileName,
  TEMP_SUFFIX,
  writeAll,
  writeFileAtomic,
} from './data-dir.js';
import { LogReplay } from './replay.js';
import {
  type Done,
  type PersistBatch,
  type RaftStorage,
  type RecoveredState,
  StorageError,
} from './types.js';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_KEEP_SNAPSHOTS = 2;

export interface FileStorageOptions {
  nodeId: number;
  /** A segment that has reached this size is closed and a new one started. */
  segmentBytes?: number;
  /** How many snapshot files to keep (the newest ones). */
  keepSnapshots?: number;
  logger?: Logger;
}

interface Segment {
  seq: number;
  path: string;
  /** Largest entry or reset index written to it. */
  maxIndex: number;
  /** A later segment holds a reset: nothing in this one matters any more. */
  superseded: boolean;
}

interface SnapshotFile {
  index: number;
  term: number;
  path: string;
}

function compareSnapshots(a: SnapshotFile, b: SnapshotFile): number {
  return a.index - b.index || a.term - b.term;
}

function asStorageError(err: unknown, context: string): StorageError {
  if (err instanceof StorageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = new StorageError(`${context}: ${message}`);
  if (err instanceof Error) wrapped.cause = err;
  return wrapped;
}

function copyEntry(entry: Entry): Entry {
  return { index: entry.index, term: entry.term, type: entry.type, data: new Uint8Array(entry.data) };
}

export class FileStorage implements RaftStorage {
  private busy = false;
  private inflight: Promise<void> | null = null;
  private failed: StorageError | null = null;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly segmentBytes: number,
    private readonly keepSnapshots: number,
    private readonly lock: DirLock,
    private readonly dirHandle: FileHandle,
    /** Oldest first; the last one is the active segment. */
    private readonly segments: Segment[],
    private active: FileHandle,
    private activeBytes: number,
    /** Oldest first. */
    private readonly snapshots: SnapshotFile[],
    private hardState: HardState,
    /** Entries above baseIndex may still be overwritten; lastIndex/lastTerm: the log's end. */
    private baseIndex: number,
    private lastIndex: number,
    private lastTerm: number,
  ) {}

  /** Open (creating if needed) the data_dir, take its lock, and recover. */
  static async open(
    dir: string,
    opts: FileStorageOptions,
  ): Promise<{ storage: FileStorage; state: RecoveredState }> {
    const { nodeId } = opts;
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const keepSnapshots = opts.keepSnapshots ?? DEFAULT_KEEP_SNAPSHOTS;
    const log = (opts.logger ?? silentLogger).child({ component: 'raft-storage', dir });
    if (!Number.isSafeInteger(nodeId) || nodeId <= 0) throw new StorageError(`invalid nodeId ${nodeId}`);
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= 0) {
      throw new StorageError(`invalid segmentBytes ${segmentBytes}`);
    }
    if (!Number.isSafeInteger(keepSnapshots) || keepSnapshots < 1) {
      throw new StorageError(`invalid keepSnapshots ${keepSnapshots}`);
    }
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw asStorageError(err, `cannot create data_dir ${dir}`);
    }
    let lock: DirLock;
    try {
      lock = await acquireLock(dir, log);
    } catch (err) {
      throw asStorageError(err, `cannot lock data_dir ${dir}`);
    }
    const handles: FileHandle[] = [];
    try {
      const dirHandle = await open(dir, 'r');
      handles.push(dirHandle);
      return await FileStorage.recover(
        dir,
        nodeId,
        log,
        segmentBytes,
        keepSnapshots,
        lock,
        dirHandle,
        handles,
      );
    } catch (err) {
      for (const handle of handles) await handle.close().catch(() => undefined);
      await lock.release();
      throw asStorageError(err, `cannot open data_dir ${dir}`);
    }
  }

  private static async recover(
    dir: string,
    nodeId: number,
    log: Logger,
    segmentBytes: number,
    keepSnapshots: number,
    lock: DirLock,
    dirHandle: FileHandle,
    handles: FileHandle[],
  ): Promise<{ storage: FileStorage; state: RecoveredState }> {
    const segments: Segment[] = [];
    const snapshots: SnapshotFile[] = [];
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (name.endsWith(TEMP_SUFFIX)) {
        log.info({ file: path }, 'removing a leftover temporary file');
        await unlink(path);
        continue;
      }
      const seq = parseSegmentFileName(name);
      if (seq !== null) segments.push({ seq, path, maxIndex: 0, superseded: false });
      const snap = parseSnapshotFileName(name);
      if (snap) snapshots.push({ ...snap, path });
    }
    segments.sort((a, b) => a.seq - b.seq);
    snapshots.sort(compareSnapshots);
    await checkIdentity(dir, dirHandle, nodeId, segments.length > 0 || snapshots.length > 0);

    // The newest snapshot.
    let snapshot: Snapshot | null = null;
    const newest = snapshots[snapshots.length - 1];
    if (newest) {
      try {
        snapshot = decodeSnapshotFile(await readFile(newest.path));
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
        throw new StorageError(
          `snapshot file ${newest.path} is corrupt: ${err.message}; refusing to start`,
          newest.path,
          err.offset,
        );
      }
      if (snapshot.meta.index !== newest.index || snapshot.meta.term !== newest.term) {
        throw new StorageError(
          `snapshot file ${newest.path} holds (index ${snapshot.meta.index}, term ${snapshot.meta.term}), ` +
            'not what its name says; refusing to start',
          newest.path,
        );
      }
      snapshot.data = new Uint8Array(snapshot.data);
    }
    if (segments.length === 0 && snapshots.length > 0) {
      throw new StorageError(
        `data_dir ${dir} holds snapshots but no log segments: term and vote are lost; refusing to start`,
      );
    }

    // Replay the log.
    const replay = new LogReplay();
    let activeBytes = 0;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const isLast = i === segments.length - 1;
      if (i > 0 && segment.seq !== segments[i - 1]!.seq + 1) {
        throw new StorageError(
          `log segment ${segmentFileName(segments[i - 1]!.seq + 1)} is missing before ${segment.path}; refusing to start`,
          segment.path,
        );
      }
      const bytes = await readFile(segment.path);
      const scan = scanFrames(bytes);
      for (let f = 0; f < scan.frames.length; f++) {
        const frame = scan.frames[f]!;
        const { record } = frame;
        try {
          replay.apply(record, f === 0);
        } catch (err) {
          throw new StorageError(
            `log corrupted: ${segment.path} at offset ${frame.offset}: ${(err as Error).message}; refusing to start`,
            segment.path,
            frame.offset,
          );
        }
        if (record.reset) {
          for (let j = 0; j < i; j++) segments[j]!.superseded = true;
          segment.maxIndex = Math.max(segment.maxIndex, record.reset.index);
        }
        for (const entry of record.entries) segment.maxIndex = Math.max(segment.maxIndex, entry.index);
      }
      const { end } = scan;
      if (end.kind === 'torn' && isLast) {
        log.warn(
          {
            file: segment.path,
            offset: end.offset,
            droppedBytes: bytes.length - end.offset,
            reason: end.reason,
          },
          'torn write at the end of the log (never acknowledged): truncating',
        );
        const handle = await open(segment.path, 'r+');
        try {
          await handle.truncate(end.offset);
          await handle.sync();
        } finally {
          await handle.close();
        }
      } else if (end.kind !== 'clean') {
        throw new StorageError(
          `log corrupted in the middle: ${segment.path} at offset ${end.offset}: ${end.reason}; ` +
            'refusing to start (data may have been acknowledged)',
          segment.path,
          end.offset,
        );
      }
      if (isLast) activeBytes = scan.validBytes;
    }

    // Apply the snapshot to the replayed log.
    const snapIndex = snapshot?.meta.index ?? 0;
    const snapTerm = snapshot?.meta.term ?? 0;
    if (replay.baseIndex > snapIndex) {
      throw new StorageError(
        `log in ${dir} starts after index ${replay.baseIndex} but the newest snapshot is at index ${snapIndex}: ` +
          'entries are missing; refusing to start',
      );
    }
    if (snapIndex === replay.baseIndex && replay.termAt(snapIndex) === undefined) {
      // Only reachable if segments were deleted that no snapshot covered.
      throw new StorageError(
        `log in ${dir} cannot be checked against the snapshot at index ${snapIndex}; refusing to start`,
      );
    }
    let entries: Entry[];
    const matches = replay.termAt(snapIndex) === snapTerm;
    if (matches) {
      entries = replay.entries.slice(snapIndex - replay.baseIndex).map(copyEntry);
    } else {
      entries = [];
    }
    const raw = replay.hardState ?? { term: 0, vote: 0, commit: 0 };
    const hardState: HardState = { term: raw.term, vote: raw.vote, commit: Math.max(raw.commit, snapIndex) };

    // Open the active segment.
    let active: FileHandle;
    if (segments.length === 0) {
      const path = join(dir, segmentFileName(1));
      active = await open(path, 'ax');
      handles.push(active);
      await dirHandle.sync();
      segments.push({ seq: 1, path, maxIndex: 0, superseded: false });
    } else {
      active = await open(segments[segments.length - 1]!.path, 'a');
      handles.push(active);
    }
    const storage = new FileStorage(
      dir,
      log,
      segmentBytes,
      keepSnapshots,
      lock,
      dirHandle,
      segments,
      active,
      activeBytes,
      snapshots,
      hardState,
      snapIndex,
      // Where the log on disk ends (the next segment start says so); a repair below moves it.
      replay.lastIndex,
      replay.lastTerm,
    );
    if (!matches) {
      // A snapshot was written but the reset frame that follows it was not (or the log lost the
      // snapshot's entry): make the log agree with the snapshot before anything is appended.
      log.warn(
        { snapshotIndex: snapIndex, snapshotTerm: snapTerm, logLastIndex: replay.lastIndex },
        'log does not contain the newest snapshot: resetting the log to it',
      );
      await storage.writeRecord({ index: snapIndex, term: snapTerm }, [], hardState);
    }
    return { storage, state: { hardState, snapshot, entries } };
  }

  persist(batch: PersistBatch, done: Done): void {
    this.run('persist', () => this.doPersist(batch), done);
  }

  saveSnapshot(snapshot: Snapshot, done: Done): void {
    this.run('saveSnapshot', () => this.doSaveSnapshot(snapshot), done);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inflight) await this.inflight;
    await this.active.close().catch(() => undefined);
    await this.dirHandle.close().catch(() => undefined);
    await this.lock.release();
  }

  // -------------------------------------------------------------------------------------------

  private run(what: string, work: () => Promise<void>, done: Done): void {
    if (this.busy) {
      throw new StorageError(`${what} called while a previous storage call is still in progress`);
    }
    const refusal = this.closed
      ? new StorageError(`${what} called on closed storage`)
      : this.failed && new StorageError(`storage failed earlier: ${this.failed.message}`);
    if (refusal) {
      process.nextTick(done, refusal);
      return;
    }
    this.busy = true;
    const outcome = work().then(
      () => null,
      (err: unknown) => {
        this.failed = asStorageError(err, `${what} failed in ${this.dir}`);
        this.log.error({ err: this.failed }, 'storage failed: the member must stop');
        return this.failed;
      },
    );
    this.inflight = outcome.then(() => undefined);
    void outcome.then((err) => {
      this.busy = false;
      this.inflight = null;
      done(err);
    });
  }

  private async doPersist(batch: PersistBatch): Promise<void> {
    const { snapshot, entries } = batch;
    this.checkBatch(batch);
    if (snapshot) await this.writeSnapshotFile(snapshot);
    if (!batch.hardState && entries.length === 0 && !snapshot) return;
    const reset = snapshot ? { index: snapshot.meta.index, term: snapshot.meta.term } : null;
    await this.writeRecord(reset, entries, batch.hardState);
    if (snapshot) await this.compact();
  }

  private checkBatch(batch: PersistBatch): void {
    const { snapshot, entries } = batch;
    let first = this.baseIndex + 1;
    let last = this.lastIndex + 1;
    if (snapshot) {
      const newest = this.snapshots[this.snapshots.length - 1];
      if (newest && snapshot.meta.index < newest.index) {
        throw new StorageError(
          `received snapshot at index ${snapshot.meta.index} is older than the stored one at ${newest.index}`,
        );
      }
      first = snapshot.meta.index + 1;
      last = first;
    }
    const head = entries[0];
    if (head && (head.index < first || head.index > last)) {
      throw new StorageError(`batch entries start at ${head.index}; expected an index in ${first}..${last}`);
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) {
        throw new StorageError(`batch entries are not contiguous at index ${entries[i]!.index}`);
      }
    }
  }

  /** Append one frame to the active segment (rotating first if it is full) and fdatasync it. */
  private async writeRecord(
    reset: LogRecord['reset'],
    entries: Entry[],
    batchHardState: HardState | null,
  ): Promise<void> {
    if (this.activeBytes >= this.segmentBytes) await this.rotate();
    // A segment's first frame says where the log stood and carries the hard state, so that the
    // segments before it can be deleted once a snapshot covers them.
    const fresh = this.activeBytes === 0;
    const record: LogRecord = {
      segmentStart: fresh ? { prevIndex: this.lastIndex, prevTerm: this.lastTerm } : null,
      reset,
      entries,
      hardState: batchHardState ?? (fresh ? this.hardState : null),
    };
    const frame = encodeFrame(record);
    await writeAll(this.active, frame);
    await this.active.datasync();
    this.activeBytes += frame.length;

    const segment = this.segments[this.segments.length - 1]!;
    if (record.reset) {
      this.baseIndex = this.lastIndex = record.reset.index;
      this.lastTerm = record.reset.term;
      segment.maxIndex = Math.max(segment.maxIndex, record.reset.index);
      for (const older of this.segments) if (older !== segment) older.superseded = true;
    }
    const tail = record.entries[record.entries.length - 1];
    if (tail) {
      this.lastIndex = tail.index;
      this.lastTerm = tail.term;
      segment.maxIndex = Math.max(segment.maxIndex, tail.index);
    }
    const { hardState } = record;
    if (hardState) this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
  }

  private async rotate(): Promise<void> {
    const previous = this.segments[this.segments.length - 1]!;
    const seq = previous.seq + 1;
    const path = join(this.dir, segmentFileName(seq));
    const handle = await open(path, 'ax');
    const old = this.active;
    this.active = handle;
    this.activeBytes = 0;
    this.segments.push({ seq, path, maxIndex: 0, superseded: false });
    await old.close();
    await this.dirHandle.sync();
    this.log.debug({ file: path }, 'started a new log segment');
  }

  private async doSaveSnapshot(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.meta;
    if (index > this.lastIndex) {
      throw new StorageError(`snapshot at index ${index} is beyond the log's last index ${this.lastIndex}`);
    }
    const newest = this.snapshots[this.snapshots.length - 1];
    if (newest && index <= newest.index) {
      this.log.debug(
        { index, term, newestIndex: newest.index },
        'snapshot not newer than the stored one: skipped',
      );
      return;
    }
    await this.writeSnapshotFile(snapshot);
    await this.compact();
  }

  private async writeSnapshotFile(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.meta;
    const path = join(this.dir, snapshotFileName(index, term));
    await writeFileAtomic(this.dirHandle, path, encodeSnapshotParts(snapshot));
    const file: SnapshotFile = { index, term, path };
    const at = this.snapshots.findIndex((s) => s.path === path);
    if (at >= 0) this.snapshots.splice(at, 1);
    this.snapshots.push(file);
    this.snapshots.sort(compareSnapshots);
  }

  /** Drop snapshots beyond the newest keepSnapshots and the log segments the newest one covers. */
  private async compact(): Promise<void> {
    let removed = 0;
    while (this.snapshots.length > this.keepSnapshots) {
      const oldest = this.snapshots.shift()!;
      await unlinkIfPresent(oldest.path);
      removed++;
    }
    const covered = this.snapshots[this.snapshots.length - 1]?.index ?? 0;
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      if (!oldest.superseded && oldest.maxIndex > covered) break;
      await unlinkIfPresent(oldest.path);
      this.segments.shift();
      removed++;
    }
    if (removed > 0) await this.dirHandle.sync();
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}
