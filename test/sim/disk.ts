/**
 * A simulated disk for one member, implementing the RaftStorage contract exactly: a persist or
 * snapshot write completes (and is durable) only after a random fsync delay; a crash before that
 * loses it. What is durable survives crashes and is what the member restarts from.
 */
import type { Done, PersistBatch, RaftStorage, RecoveredState } from '../../src/raft/storage/types.js';
import type { Entry, HardState, Snapshot } from '../../src/raft/types.js';
import type { Random } from '../../src/util/random.js';
import type { Scheduler } from './scheduler.js';

export interface DurableState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export class SimDisk {
  durable: DurableState = { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };
  /** Incremented on crash: completions scheduled by an earlier incarnation are discarded. */
  private generation = 0;
  /** Test hook: acknowledge writes before they are durable (a broken fsync), to prove the checks catch it. */
  lieAboutFsync = false;
  private lazyDurableAt = 0;
  /** Called after each batch becomes durable (log-matching checks run on durable logs). */
  onDurable: ((batch: PersistBatch) => void) | null = null;
  /** Called after a local compaction dropped `dropped` entries from the front of the durable log. */
  onCompacted: ((dropped: number) => void) | null = null;
  writes = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: Random,
    private readonly maxFsyncMs = 2,
  ) {}

  storage(): RaftStorage {
    const gen = this.generation;
    const complete = (apply: () => void, done: Done) => {
      if (this.lieAboutFsync) {
        // Acknowledge now, make durable later (or never, if we crash first).
        done(null);
        // Like a write-back cache: durable later, in order (or never, if we crash first).
        this.lazyDurableAt = Math.max(this.lazyDurableAt, this.scheduler.now + 100 + this.random.int(400));
        this.scheduler.schedule(this.lazyDurableAt - this.scheduler.now, () => {
          if (gen === this.generation) apply();
        });
        return;
      }
      this.scheduler.schedule(this.random.int(this.maxFsyncMs + 1), () => {
        if (gen !== this.generation) return; // crashed before fsync returned: lost
        apply();
        done(null);
      });
    };
    return {
      persist: (batch, done) => complete(() => this.applyBatch(batch), done),
      saveSnapshot: (snap, done) => complete(() => this.applySnapshot(snap), done),
      close: async () => {},
    };
  }

  crash(): void {
    this.generation++;
  }

  load(): RecoveredState {
    return {
      hardState: { ...this.durable.hardState },
      snapshot: this.durable.snapshot,
      entries: this.durable.entries.slice(),
    };
  }

  private base(): number {
    return this.durable.snapshot?.meta.index ?? 0;
  }

  private applyBatch(batch: PersistBatch): void {
    this.writes++;
    const d = this.durable;
    if (batch.snapshot) {
      d.snapshot = batch.snapshot;
      d.entries = [];
    }
    if (batch.entries.length > 0) {
      const first = batch.entries[0]!.index;
      const keep = first - this.base() - 1;
      if (keep < 0 || keep > d.entries.length) {
        throw new Error(
          `sim disk: non-contiguous append at ${first} (base ${this.base()}, ${d.entries.length} entries)`,
        );
      }
      d.entries.length = keep;
      for (const e of batch.entries) d.entries.push(e);
    }
    if (batch.hardState) d.hardState = { ...batch.hardState };
    this.onDurable?.(batch);
  }

  private applySnapshot(snap: Snapshot): void {
    this.writes++;
    const d = this.durable;
    if (d.snapshot && d.snapshot.meta.index >= snap.meta.index) return;
    const drop = Math.max(0, snap.meta.index - this.base());
    d.entries = d.entries.slice(drop);
    d.snapshot = snap;
    this.onCompacted?.(drop);
  }
}
