import type { Entry, HardState, Snapshot } from '../types.js';

/**
 * One unit of durable work handed to storage by the Raft driver (from a Ready).
 *
 * Semantics, in order:
 * 1. `snapshot`, when present, was received from the leader and replaces the whole log: after it,
 *    the log holds no entries at or below `snapshot.meta.index`, and none above it either, except
 *    the `entries` of this same batch.
 * 2. `entries` are appended. If the first one's index is at or below the last stored index, the
 *    log is truncated there first (a follower overwriting a conflicting suffix). Indexes are
 *    contiguous.
 * 3. `hardState`, when present, replaces the stored one.
 *
 * `done` is called only after all of it is durable (fdatasync/fsync returned). A batch is atomic
 * with respect to crashes: after a crash either all of it is recovered, or (when it was the last
 * write and `done` had not been called) none of it.
 */
export interface PersistBatch {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
}

/** What storage hands back when opened: everything needed to rebuild the core. */
export interface RecoveredState {
  hardState: HardState;
  /** The newest snapshot, or null when none was ever taken or received. */
  snapshot: Snapshot | null;
  /** Entries after the snapshot's index (or from index 1), contiguous. */
  entries: Entry[];
}

export type Done = (err: Error | null) => void;

/**
 * Durable storage for one Raft member. Calls are serialized by the driver: it never issues a
 * `persist` or `saveSnapshot` before the previous call's `done`.
 */
export interface RaftStorage {
  persist(batch: PersistBatch, done: Done): void;
  /**
   * Local compaction: a snapshot of the state machine at `snapshot.meta.index` (an applied,
   * committed index). Written atomically; afterwards entries at or below its index may be
   * discarded. Entries above it are kept.
   */
  saveSnapshot(snapshot: Snapshot, done: Done): void;
  close(): Promise<void>;
}

/** A storage failure that must stop the member: never acknowledge anything after it. */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}
